"""Real photos of odd sizes and aspect ratios for the image parity tests, made from the two that scikit-learn ships.

china.jpg and flower.jpg (427x640 JPEGs) are copied as they are, and crops and resizes of them are written as PNG
and JPEG, so that both sides (modelctl and the Python reference) read the same files. Sizes are width x height.
"""
import shutil
from pathlib import Path

from PIL import Image
import sklearn.datasets

IMAGES = Path(sklearn.datasets.__file__).parent / "images"  # what load_sample_images() reads

# name -> (source, crop box (left, top, right, bottom) or None, resized size or None, JPEG quality or None for PNG)
VARIANTS = {
    # stored 201x100 with EXIF orientation 6: both sides must turn it upright (100x201), as Pillow's exif_transpose
    # (transformers' load_image) and cv2.imdecode (Ultralytics) do
    "china-exif6-100x201.jpg": ("china.jpg", (100, 50, 301, 150), None, 90),
    "china-97x301.png": ("china.jpg", (250, 60, 347, 361), None, None),
    "flower-640x427-q85.jpg": ("flower.jpg", None, None, 85),
    "flower-33x65.jpg": ("flower.jpg", (200, 40, 400, 427), (33, 65), 92),
    "china-301x97.jpg": ("china.jpg", (100, 200, 552, 345), (301, 97), 90),
    "flower-20x13.png": ("flower.jpg", (300, 150, 400, 215), (20, 13), None),
    "china-1000x333.png": ("china.jpg", (0, 100, 640, 313), (1000, 333), None),
    # a CMYK JPEG (Pillow writes Adobe's inverted CMYK): Pillow and cv2 turn it into RGB each by its own formula
    "flower-cmyk-150x99.jpg": ("flower.jpg", (100, 100, 400, 298), (150, 99), 90),
}


def write_photos(folder: str) -> list[str]:
    """Writes the photos into folder; returns their paths (the two originals first)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in ("china.jpg", "flower.jpg"):
        shutil.copyfile(IMAGES / name, out / name)
        paths.append(str(out / name))
    for name, (source, box, size, quality) in VARIANTS.items():
        im = Image.open(IMAGES / source).convert("RGB")
        if box:
            im = im.crop(box)
        if size:
            im = im.resize(size, Image.Resampling.LANCZOS)
        if "cmyk" in name:
            im = im.convert("CMYK")
        if quality is None:
            im.save(out / name)
        elif "exif6" in name:
            exif = Image.Exif()
            exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
            im.save(out / name, quality=quality, exif=exif)
        else:
            im.save(out / name, quality=quality)
        paths.append(str(out / name))
    return paths


def write_noise(folder: str, count: int, seed: int) -> list[str]:
    """count PNGs of random pixels and random sizes (1 to 700 pixels a side, thin ones included)."""
    import numpy as np

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sizes = [(1, 300), (300, 1), (2, 2)] + [tuple(int(v) for v in rng.integers(1, 700, 2)) for _ in range(max(0, count - 3))]
    paths = []
    for width, height in sizes[:count]:
        path = out / f"noise-{width}x{height}.png"
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB").save(path)
        paths.append(str(path))
    return paths
