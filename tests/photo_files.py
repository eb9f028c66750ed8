"""Real photo files for tests, made with Pillow: a phone's JPEG with EXIF (GPS, time,
orientation, maker), PNG and WebP, and the files that only pretend to be photos."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image
from PIL.ExifTags import GPS, IFD, Base

SPOT = (119.1103, 36.7181)
"""Where the test camera stands (WGS84), in grid 370705001001001 of the small district."""
TAKEN = "2026:12:05 14:03:00"
MAKER = "GridPhone"


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return (float(degrees), float(minutes), seconds)


def phone_jpeg(
    size: tuple[int, int] = (1200, 900),
    *,
    orientation: int = 6,
    gps: tuple[float, float] | None = SPOT,
    taken: str | None = TAKEN,
    offset: str | None = None,
    map_datum: str | None = None,
    colour: tuple[int, int, int] = (200, 40, 40),
) -> bytes:
    """A JPEG as a phone saves it: stored sideways with EXIF orientation 6 (rotate 90°),
    the maker, GPS (WGS84) and DateTimeOriginal; a comment too. The top-left quarter is
    blue so a test can tell which way up it ends."""
    image = Image.new("RGB", size, colour)
    image.paste((20, 40, 220), (0, 0, size[0] // 2, size[1] // 2))
    exif = Image.Exif()
    exif[Base.Orientation] = orientation
    exif[Base.Make] = MAKER
    exif[Base.Model] = "GP-1 serial 0042"
    if gps is not None:
        lon, lat = gps
        info: dict[int, object] = {
            GPS.GPSLatitudeRef: "N" if lat >= 0 else "S",
            GPS.GPSLatitude: _dms(abs(lat)),
            GPS.GPSLongitudeRef: "E" if lon >= 0 else "W",
            GPS.GPSLongitude: _dms(abs(lon)),
        }
        if map_datum is not None:
            info[GPS.GPSMapDatum] = map_datum
        exif[IFD.GPSInfo] = info
    details: dict[int, object] = {}
    if taken is not None:
        details[Base.DateTimeOriginal] = taken
    if offset is not None:
        details[0x9011] = offset
    if details:
        exif[IFD.Exif] = details
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90, comment=b"secret comment 13912345678")
    return out.getvalue()


def png(size: tuple[int, int] = (640, 480), *, transparent: bool = False) -> bytes:
    mode, fill = ("RGBA", (0, 0, 0, 0)) if transparent else ("RGB", (30, 160, 60))
    out = io.BytesIO()
    Image.new(mode, size, fill).save(out, "PNG")  # type: ignore[arg-type]
    return out.getvalue()


def webp(size: tuple[int, int] = (500, 400)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (90, 90, 200)).save(out, "WEBP")
    return out.getvalue()


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (20, 20)).save(out, "GIF")
    return out.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` × ``height`` pixels, with one tiny data chunk:
    a few hundred bytes that would unpack into gigabytes (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script></svg>"
)
ZIP_TAIL = b"PK\x03\x04" + b"\x00" * 26 + b"evil.html<script>alert(1)</script>"
