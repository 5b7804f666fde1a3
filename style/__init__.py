"""The painting machines beside the GAN: Gatys style transfer, the zentangle machine and
DeepDream, with styles from the curated collection, to print size.

    python -m style transfer --content photo.jpg --style painting.jpg --out out/x.png
    python -m style.stage        # the DVC stage `stylize` (params.yaml's stylize section)
"""
