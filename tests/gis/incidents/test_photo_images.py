"""A photo as sent becomes a clean JPEG: checked, turned upright, stripped, its EXIF time
and position kept apart; anything that is not a whole JPEG, PNG or WebP is refused."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from PIL import Image

from gis.errors import PayloadTooLargeError, UnsupportedFileError
from gis.incidents.photo_images import IMAGE_MAX_PX, THUMB_MAX_PX, clean_photo
from gis.localtime import CITY_TZ
from tests import photo_files as files

LIMIT = 64_000_000


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_a_phone_jpeg_is_turned_upright_stripped_and_its_exif_kept_apart() -> None:
    sent = files.phone_jpeg((3000, 2000))
    photo = clean_photo(sent, name="IMG_0001.jpg", max_pixels=LIMIT)
    # Orientation 6: stored 3000 wide, shown 2000 wide; then at most 2048 px.
    assert (photo.width, photo.height) == (1365, 2048)
    image = opened(photo.image)
    assert image.format == "JPEG" and image.size == (1365, 2048)
    # The blue quarter, top-left as stored, is top-right once turned 90° clockwise.
    assert image.getpixel((1300, 50))[2] > 150  # type: ignore[index]
    assert image.getpixel((50, 50))[0] > 150  # type: ignore[index]
    for data in (photo.image, photo.thumb):
        clean = opened(data)
        assert dict(clean.getexif()) == {}
        assert not {"exif", "icc_profile", "comment", "xmp", "XML:com.adobe.xmp"} & set(clean.info)
        for secret in (b"Exif", files.MAKER.encode(), b"serial", b"13912345678", b"GPS"):
            assert secret not in data
    assert max(opened(photo.thumb).size) == THUMB_MAX_PX
    assert (photo.lon, photo.lat) == pytest.approx(files.SPOT, abs=1e-6)
    assert photo.taken_at == dt.datetime(2026, 12, 5, 14, 3, tzinfo=CITY_TZ)
    assert photo.original_type == "jpeg" and photo.original_bytes == len(sent)
    assert len(photo.digest) == 64


def test_exif_time_offset_southern_western_and_other_datums() -> None:
    south_west = clean_photo(
        files.phone_jpeg(gps=(-70.5, -33.25), offset="-04:00"), name="a", max_pixels=LIMIT
    )
    assert (south_west.lon, south_west.lat) == pytest.approx((-70.5, -33.25), abs=1e-6)
    assert south_west.taken_at == dt.datetime(
        2026, 12, 5, 14, 3, tzinfo=dt.timezone(dt.timedelta(hours=-4))
    )
    tokyo = clean_photo(files.phone_jpeg(map_datum="TOKYO"), name="b", max_pixels=LIMIT)
    assert (tokyo.lon, tokyo.lat) == (None, None)
    wgs = clean_photo(files.phone_jpeg(map_datum="WGS-84"), name="c", max_pixels=LIMIT)
    assert wgs.lon is not None
    bare = clean_photo(files.phone_jpeg(gps=None, taken=None), name="d", max_pixels=LIMIT)
    assert (bare.lon, bare.lat, bare.taken_at) == (None, None, None)


def test_png_and_webp_become_jpeg_transparency_on_white() -> None:
    clear = clean_photo(files.png(transparent=True), name="x.png", max_pixels=LIMIT)
    assert clear.original_type == "png"
    assert opened(clear.image).getpixel((10, 10)) == pytest.approx((255, 255, 255), abs=2)
    small = clean_photo(files.webp(), name="x.webp", max_pixels=LIMIT)
    assert (small.original_type, small.width, small.height) == ("webp", 500, 400)
    assert opened(small.image).format == "JPEG"
    assert IMAGE_MAX_PX == 2048


def test_a_motion_photos_video_after_the_jpeg_is_dropped() -> None:
    video = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64
    photo = clean_photo(files.phone_jpeg() + video, name="MVIMG.jpg", max_pixels=LIMIT)
    assert b"ftyp" not in photo.image


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "empty"),
        (files.PDF, "a PDF"),
        (files.SVG, "SVG"),
        (files.gif(), "a GIF"),
        (b"hello, not a photo", "not a JPEG, PNG or WebP"),
        (files.phone_jpeg()[:-2000], "cannot be decoded in full"),
        (files.png()[:-40], "cannot be decoded in full"),
        (files.phone_jpeg() + files.ZIP_TAIL, "a ZIP archive"),
        (files.png() + b"<html><script>alert(1)</script></html>", "after the end of the image"),
        (files.webp() + b"trailing", "after the end of the image"),
    ],
    ids=[
        "empty",
        "pdf",
        "svg",
        "gif",
        "text",
        "cut-jpeg",
        "cut-png",
        "jpeg+zip",
        "png+html",
        "webp+tail",
    ],
)
def test_what_is_not_a_whole_photo_is_refused_saying_what_it_is(data: bytes, says: str) -> None:
    with pytest.raises(UnsupportedFileError, match=says):
        clean_photo(data, name="photo.jpg", max_pixels=LIMIT)


def test_too_many_pixels_are_refused_before_decoding() -> None:
    with pytest.raises(PayloadTooLargeError, match="640 × 480 = 307,200 pixels"):
        clean_photo(files.png(), name="x.png", max_pixels=100_000)
    bomb = files.png_declaring(100_000, 100_000)
    assert len(bomb) < 200
    with pytest.raises(PayloadTooLargeError, match="GRIDMAP_PHOTO_MAX_PIXELS"):
        clean_photo(bomb, name="bomb.png", max_pixels=LIMIT)
    # Above our limit but below Pillow's own: refused from the declared size.
    with pytest.raises(PayloadTooLargeError, match=r"9000 × 8000 = 72,000,000"):
        clean_photo(files.png_declaring(9000, 8000), name="big.png", max_pixels=LIMIT)
