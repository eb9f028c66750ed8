"""A photo as sent, checked and re-encoded: what ``gis.incidents.photos`` stores. Pure.

A phone's photo carries more than the picture: EXIF with the position and
time it was taken, the phone's make and serial, an embedded preview, XMP,
colour profiles; and a file that only calls itself a photo may be a PDF, an
SVG with scripts, a cut-off upload or a small file that unpacks into
gigabytes. So nothing of the file as sent is kept:

1. **Checks.** The file must be a JPEG, PNG or WebP (Pillow is asked for those
   three formats only) whose declared size is within ``max_pixels`` (read from
   the header, before anything is decoded: a decompression bomb costs nothing)
   and which Pillow decodes in full (a truncated file fails here). Data after
   the end of the image (a ZIP, an HTML page: a polyglot) is refused, except
   the video a phone's "motion photo" appends to its JPEG, which is dropped.
   A refusal is :class:`~gis.errors.UnsupportedFileError` (415) or, for too
   many pixels, :class:`~gis.errors.PayloadTooLargeError` (413), saying why.
2. **Kept as columns.** EXIF ``DateTimeOriginal`` (with its offset, else
   Asia/Shanghai) and the GPS position (WGS84, which EXIF declares; another
   ``GPSMapDatum`` is not guessed at and the position is dropped).
3. **Re-encoded.** The EXIF orientation is applied to the pixels first (a
   photo taken upright stays upright once its EXIF is gone), a colour profile
   is converted to sRGB, transparency is laid on white; then a new JPEG of at
   most ``IMAGE_MAX_PX`` and a thumbnail of at most ``THUMB_MAX_PX`` are
   written from the pixels alone: no EXIF, XMP, ICC profile or comment.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import math
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageCms, ImageOps
from PIL.ExifTags import GPS, IFD, Base

from gis.errors import PayloadTooLargeError, UnsupportedFileError
from gis.localtime import CITY_TZ

FORMATS = ("JPEG", "PNG", "WEBP")
"""What Pillow is asked to recognise: any other file is not opened at all."""
IMAGE_MAX_PX = 2048
"""Longest side of the stored image, pixels: a phone screen's full width and more."""
THUMB_MAX_PX = 320
"""Longest side of the thumbnail, pixels: a list on a phone."""
IMAGE_QUALITY = 85
THUMB_QUALITY = 80

_OFFSET_TIME_ORIGINAL = 0x9011
_KINDS = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp"}


@dataclass(frozen=True)
class CleanPhoto:
    """A photo as stored: JPEG bytes without metadata, and what EXIF said.

    ``width``/``height`` of ``image`` (pixels); ``original_type`` jpeg, png or
    webp; ``lon``/``lat`` WGS84 degrees or None; ``taken_at`` timezone-aware or None.
    """

    image: bytes
    thumb: bytes
    width: int
    height: int
    digest: str
    original_type: str
    original_bytes: int
    taken_at: dt.datetime | None
    lon: float | None
    lat: float | None


def clean_photo(data: bytes, *, name: str, max_pixels: int) -> CleanPhoto:
    """The checked, re-encoded photo of file ``data`` (``name`` for messages)."""
    label = _label(name)
    if not data:
        raise UnsupportedFileError(
            f"照片文件 {label} 为空 (the file {label} is empty, 0 bytes): send the photo again"
        )
    image = _opened(data, label, max_pixels)
    kind = _KINDS[str(image.format)]
    _refuse_trailing_data(data, kind, label)
    try:
        exif = image.getexif()
        taken_at = _taken_at(exif)
        lon, lat = _position(exif)
        upright = ImageOps.exif_transpose(image)
        pixels = _srgb(upright)
        big = _jpeg(pixels, IMAGE_MAX_PX, IMAGE_QUALITY)
        thumb = _jpeg(pixels, THUMB_MAX_PX, THUMB_QUALITY)
    except (PayloadTooLargeError, UnsupportedFileError):
        raise
    except Exception as exc:  # Pillow's decoders raise OSError, SyntaxError, ValueError, ...
        raise _undecodable(label, exc) from None
    image_bytes, width, height = big
    return CleanPhoto(
        image=image_bytes,
        thumb=thumb[0],
        width=width,
        height=height,
        digest=hashlib.sha256(image_bytes).hexdigest(),
        original_type=kind,
        original_bytes=len(data),
        taken_at=taken_at,
        lon=lon,
        lat=lat,
    )


def _label(name: str) -> str:
    shown = "".join(c for c in name if c.isprintable())[:80]
    return f"“{shown}”" if shown else "(unnamed)"


def _undecodable(label: str, exc: BaseException) -> UnsupportedFileError:
    why = str(exc).strip()[:120] or type(exc).__name__
    return UnsupportedFileError(
        f"照片 {label} 无法完整解码 (the photo {label} cannot be decoded in full: {why}); "
        "it may be cut off or damaged: send it again, as a JPEG, PNG or WebP"
    )


def _opened(data: bytes, label: str, max_pixels: int) -> Image.Image:
    """The image, decoded in full, after its declared size was checked."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(label, None, max_pixels) from None
    except Image.UnidentifiedImageError:
        raise UnsupportedFileError(
            f"文件 {label} 不是 JPEG、PNG 或 WebP 图片 (the file {label} is not a JPEG, PNG or "
            f"WebP image{_what_it_looks_like(data)}): send a photo in one of those formats"
        ) from None
    except Exception as exc:  # a header Pillow recognised but could not read
        raise _undecodable(label, exc) from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise _undecodable(label, ValueError(f"it declares {width} × {height} pixels"))
    if width * height > max_pixels:
        raise _too_many_pixels(label, (width, height), max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if image.format == "JPEG":
                # Decode at the smallest scale libjpeg offers that still covers the stored
                # size (1/2, 1/4, 1/8): the whole file is still read and checked.
                image.draft("RGB", (IMAGE_MAX_PX, IMAGE_MAX_PX))
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(label, (width, height), max_pixels) from None
    except Exception as exc:
        raise _undecodable(label, exc) from None
    return image


def _too_many_pixels(
    label: str, size: tuple[int, int] | None, max_pixels: int
) -> PayloadTooLargeError:
    declared = (
        f"{size[0]} × {size[1]} = {size[0] * size[1]:,} pixels"
        if size
        else f"more than {Image.MAX_IMAGE_PIXELS or 0:,} pixels"
    )
    return PayloadTooLargeError(
        f"照片 {label} 像素过多 (the photo {label} declares {declared}; at most "
        f"{max_pixels:,} are taken, GRIDMAP_PHOTO_MAX_PIXELS): send a smaller photo"
    )


def _what_it_looks_like(data: bytes) -> str:
    head = data[:512].lstrip().lower()
    for signature, what in (
        (b"%pdf", "a PDF"),
        (b"<svg", "an SVG drawing"),
        (b"<?xml", "an XML document (an SVG?)"),
        (b"<!doctype html", "an HTML page"),
        (b"<html", "an HTML page"),
        (b"gif8", "a GIF"),
        (b"pk\x03\x04", "a ZIP archive"),
    ):
        if head.startswith(signature):
            return f"; it is {what}"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        return "; it is HEIC: set the camera to JPEG (most compatible) or convert it"
    return ""


# ---- where the image ends -----------------------------------------------------------------


def _refuse_trailing_data(data: bytes, kind: str, label: str) -> None:
    """Refuse bytes after the image's end (a polyglot); a motion photo's video may follow a
    JPEG (an MP4 or further JPEGs of a multi-picture file) and is dropped with the rest."""
    end = {"jpeg": _jpeg_end, "png": _png_end, "webp": _webp_end}[kind](data)
    if end is None:
        raise _undecodable(label, ValueError("its structure does not reach an end marker"))
    tail = data[end:]
    if not tail.strip(b"\x00\r\n\t "):
        return
    if kind == "jpeg" and (tail[4:8] == b"ftyp" or tail.startswith(b"\xff\xd8\xff")):
        return
    raise UnsupportedFileError(
        f"照片 {label} 在图片结束后还有 {len(tail):,} 字节其他数据 (the file {label} has "
        f"{len(tail):,} bytes of other data after the end of the image{_what_it_looks_like(tail)}"
        "): it is not only a photo; send the photo as the camera saved it"
    )


def _jpeg_end(data: bytes) -> int | None:
    """The offset just past a JPEG's end-of-image marker, walking its segments (an EXIF
    preview's own markers sit inside an APP1 segment and are skipped with it)."""
    n = len(data)
    i = 2
    while i < n:
        if data[i] != 0xFF:
            return None
        while i < n and data[i] == 0xFF:
            i += 1
        if i >= n:
            return None
        marker = data[i]
        i += 1
        if marker == 0xD9:
            return i
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        if i + 2 > n:
            return None
        length = int.from_bytes(data[i : i + 2], "big")
        if length < 2:
            return None
        i += length
        if marker == 0xDA:  # entropy-coded data up to the next marker that is not 00 or RSTn
            while True:
                j = data.find(b"\xff", i)
                if j < 0 or j + 1 >= n:
                    return None
                following = data[j + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    i = j + 1
                    continue
                i = j
                break
    return None


def _png_end(data: bytes) -> int | None:
    i = 8
    n = len(data)
    while i + 8 <= n:
        length = int.from_bytes(data[i : i + 4], "big")
        kind = data[i + 4 : i + 8]
        i += 12 + length
        if kind == b"IEND":
            return i if i <= n else None
    return None


def _webp_end(data: bytes) -> int | None:
    if data[:4] != b"RIFF" or len(data) < 12:
        return None
    size = int.from_bytes(data[4:8], "little")
    end = 8 + size + (size & 1)
    return end if end <= len(data) else None


# ---- what EXIF said -----------------------------------------------------------------------


def _taken_at(exif: Image.Exif) -> dt.datetime | None:
    """EXIF DateTimeOriginal with OffsetTimeOriginal, else in the city's time zone."""
    details = exif.get_ifd(IFD.Exif)
    raw = details.get(Base.DateTimeOriginal)
    if not isinstance(raw, str):
        return None
    try:
        local = dt.datetime.strptime(raw.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = details.get(_OFFSET_TIME_ORIGINAL)
    if isinstance(offset, str):
        try:
            return dt.datetime.strptime(
                f"{local:%Y-%m-%d %H:%M:%S}{offset.strip()}", "%Y-%m-%d %H:%M:%S%z"
            )
        except ValueError:
            pass
    return local.replace(tzinfo=CITY_TZ)


def _position(exif: Image.Exif) -> tuple[float | None, float | None]:
    """EXIF GPS as WGS84 lon/lat, or (None, None) when absent, malformed or of another datum."""
    gps = exif.get_ifd(IFD.GPSInfo)
    datum = gps.get(GPS.GPSMapDatum)
    if isinstance(datum, str) and datum.strip("\x00 ").upper().replace("-", "") not in (
        "",
        "WGS84",
    ):
        return None, None
    lat = _degrees(gps.get(GPS.GPSLatitude), gps.get(GPS.GPSLatitudeRef), "S")
    lon = _degrees(gps.get(GPS.GPSLongitude), gps.get(GPS.GPSLongitudeRef), "W")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    return round(lon, 7), round(lat, 7)


def _degrees(value: Any, ref: Any, negative: str) -> float | None:
    try:
        d, m, s = (float(part) for part in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    degrees = d + m / 60 + s / 3600
    if not math.isfinite(degrees):
        return None
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    return -degrees if isinstance(ref, str) and ref.strip("\x00 ").upper() == negative else degrees


# ---- re-encoding --------------------------------------------------------------------------

_SRGB = ImageCms.createProfile("sRGB")


def _srgb(image: Image.Image) -> Image.Image:
    """RGB pixels in sRGB: a colour profile converted, transparency laid on white."""
    icc = image.info.get("icc_profile")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        base = Image.new("RGB", rgba.size, (255, 255, 255))
        base.paste(rgba, mask=rgba.getchannel("A"))
        image = base
    elif image.mode != "RGB":
        image = image.convert("RGB")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB")
            if converted is not None:
                image = converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the pixels as they are
    return image


def _jpeg(image: Image.Image, max_px: int, quality: int) -> tuple[bytes, int, int]:
    """A new JPEG of the pixels alone (at most ``max_px`` on its longest side)."""
    copy = image.copy()
    copy.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
    copy.info = {}
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue(), copy.width, copy.height
