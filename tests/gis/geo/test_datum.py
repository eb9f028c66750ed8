"""Tests for gis.geo.datum.

Second implementations (coord_convert, eviltransform) are dev dependencies used
only here: a datum bug shifts every point by hundreds of metres without any
error, so the formulas are checked against code written by someone else.
"""

from __future__ import annotations

import coord_convert.transform as cc
import eviltransform
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Geod

from gis.geo.datum import (
    BD09,
    CGCS2000,
    GCJ02,
    WGS84,
    Datum,
    DatumKind,
    UnknownDatumError,
    from_wgs84,
    parse_datum,
    to_wgs84,
)

GEOD = Geod(ellps="WGS84")

# Mainland China's extent, kept inside prcoords' "in China" box so the
# obfuscation is actually applied.
china_lon = st.floats(min_value=73.6, max_value=134.7, allow_nan=False)
china_lat = st.floats(min_value=18.2, max_value=53.5, allow_nan=False)
china_points = st.lists(st.tuples(china_lon, china_lat), min_size=1, max_size=40)


def _metres(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    _, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
    return np.asarray(dist)


def _split(points: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    arr = np.array(points, dtype=np.float64)
    return arr[:, 0], arr[:, 1]


# --- parse_datum -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("wgs84", WGS84),
        ("WGS84", WGS84),
        ("WGS-84", WGS84),
        ("EPSG:4326", WGS84),
        ("4326", WGS84),
        ("cgcs2000", CGCS2000),
        ("CGCS2000", CGCS2000),
        ("EPSG:4490", CGCS2000),
        ("urn:ogc:def:crs:EPSG::4490", CGCS2000),
        ("gcj02", GCJ02),
        ("GCJ-02", GCJ02),
        ("gcj_02", GCJ02),
        ("bd09", BD09),
        ("BD-09", BD09),
        (" bd09 ", BD09),
        ("EPSG:4549", Datum(DatumKind.EPSG, 4549)),
        ("epsg:4549", Datum(DatumKind.EPSG, 4549)),
        ("EPSG:3857", Datum(DatumKind.EPSG, 3857)),
    ],
)
def test_parse_datum_accepts(text: str, expected: Datum) -> None:
    assert parse_datum(text) == expected


@pytest.mark.parametrize("datum", [WGS84, CGCS2000, GCJ02, BD09, Datum(DatumKind.EPSG, 4549)])
def test_label_round_trips(datum: Datum) -> None:
    assert parse_datum(datum.label) == datum


@pytest.mark.parametrize("text", ["", "mars", "gcj", "wgs 72", "EPSG:99999", "EPSG:5773", "1"])
def test_parse_datum_rejects(text: str) -> None:
    with pytest.raises(UnknownDatumError) as info:
        parse_datum(text)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    for accepted in ("wgs84", "cgcs2000", "gcj02", "bd09", "EPSG"):
        assert accepted in message


def test_epsg_4549_is_cgcs2000_gauss_kruger_cm_120e() -> None:
    # Kuiwen (119.2 E) lies in the 3-degree zone 40, central meridian 120 E.
    crs = CRS.from_epsg(parse_datum("EPSG:4549").epsg or 0)
    assert "CGCS2000" in crs.name
    assert "120E" in crs.name
    assert not parse_datum("EPSG:4549").is_geographic
    assert parse_datum("gcj02").is_geographic


# --- GCJ-02 ----------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(china_points)
def test_gcj02_round_trip_within_1cm(points: list[tuple[float, float]]) -> None:
    lon, lat = _split(points)
    glon, glat = from_wgs84(lon, lat, GCJ02)
    back_lon, back_lat = to_wgs84(glon, glat, GCJ02)
    assert _metres(lon, lat, back_lon, back_lat).max() < 0.01


@settings(max_examples=200, deadline=None)
@given(china_points)
def test_gcj02_forward_matches_coord_convert_within_1cm(
    points: list[tuple[float, float]],
) -> None:
    lon, lat = _split(points)
    glon, glat = from_wgs84(lon, lat, GCJ02)
    other = np.array([cc.wgs2gcj(lo, la) for lo, la in points])
    assert _metres(glon, glat, other[:, 0], other[:, 1]).max() < 0.01


@settings(max_examples=200, deadline=None)
@given(china_points)
def test_gcj02_forward_matches_eviltransform(points: list[tuple[float, float]]) -> None:
    """eviltransform agrees to about 1.2 cm, not better, and that is its own quirk.

    It turns the metre offsets into degrees with the WGS84 semi-major axis
    (6378137 m) where the GCJ-02 algorithm (and prcoords, coord_convert) uses
    Krasovsky's 6378245 m; the offsets (up to ~700 m) are therefore scaled by
    1.7e-5, i.e. up to ~1.2 cm. Hence 2 cm here.
    """
    lon, lat = _split(points)
    glon, glat = from_wgs84(lon, lat, GCJ02)
    other = np.array([eviltransform.wgs2gcj(la, lo) for lo, la in points])
    assert _metres(glon, glat, other[:, 1], other[:, 0]).max() < 0.02


def test_gcj02_offset_in_kuiwen_is_hundreds_of_metres() -> None:
    lon, lat = np.array([119.16]), np.array([36.71])
    glon, glat = from_wgs84(lon, lat, GCJ02)
    offset = _metres(lon, lat, glon, glat)[0]
    assert 100 < offset < 700


def test_gcj02_is_identity_outside_china() -> None:
    # Tokyo and Berlin: prcoords leaves them alone; no warning may escape
    # (pytest turns warnings into errors).
    lon, lat = np.array([139.69, 13.40]), np.array([35.69, 52.52])
    fx, fy = from_wgs84(lon, lat, GCJ02)
    bx, by = to_wgs84(lon, lat, GCJ02)
    np.testing.assert_array_equal(fx, lon)
    np.testing.assert_array_equal(fy, lat)
    np.testing.assert_array_equal(bx, lon)
    np.testing.assert_array_equal(by, lat)


# --- BD-09 -----------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(china_points)
def test_bd09_round_trip_within_1cm(points: list[tuple[float, float]]) -> None:
    lon, lat = _split(points)
    blon, blat = from_wgs84(lon, lat, BD09)
    back_lon, back_lat = to_wgs84(blon, blat, BD09)
    assert _metres(lon, lat, back_lon, back_lat).max() < 0.01


@settings(max_examples=200, deadline=None)
@given(china_points)
def test_bd09_forward_matches_two_implementations_within_1m(
    points: list[tuple[float, float]],
) -> None:
    """Both second implementations use the same BD-09 formula as prcoords.

    coord_convert and eviltransform agree with prcoords to < 2 cm (the
    remainder is eviltransform's GCJ-02 quirk above), so neither is the
    package with the 84 m BD-09 error that standards.md warns about.
    """
    lon, lat = _split(points)
    blon, blat = from_wgs84(lon, lat, BD09)
    by_cc = np.array([cc.wgs2bd(lo, la) for lo, la in points])
    by_evil = np.array([eviltransform.wgs2bd(la, lo) for lo, la in points])
    assert _metres(blon, blat, by_cc[:, 0], by_cc[:, 1]).max() < 1.0
    assert _metres(blon, blat, by_evil[:, 1], by_evil[:, 0]).max() < 1.0


def test_bd09_is_further_offset_from_gcj02_in_kuiwen() -> None:
    lon, lat = np.array([119.16]), np.array([36.71])
    glon, glat = from_wgs84(lon, lat, GCJ02)
    blon, blat = from_wgs84(lon, lat, BD09)
    assert 500 < _metres(glon, glat, blon, blat)[0] < 1500


# --- EPSG ------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=118.5, max_value=121.5, allow_nan=False),
            st.floats(min_value=30.0, max_value=42.0, allow_nan=False),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_epsg_4549_round_trip(points: list[tuple[float, float]]) -> None:
    datum = parse_datum("EPSG:4549")
    lon, lat = _split(points)
    east, north = from_wgs84(lon, lat, datum)
    back_lon, back_lat = to_wgs84(east, north, datum)
    assert _metres(lon, lat, back_lon, back_lat).max() < 0.001


def test_epsg_4549_projects_kuiwen_west_of_central_meridian() -> None:
    east, north = from_wgs84(np.array([119.16]), np.array([36.71]), parse_datum("EPSG:4549"))
    # 0.84 deg west of 120 E at 36.7 N is ~75 km west of the 500 km false easting.
    assert 420_000 < east[0] < 430_000
    assert 4_060_000 < north[0] < 4_070_000


def test_cgcs2000_and_wgs84_are_identity() -> None:
    lon, lat = np.array([119.16, 120.0]), np.array([36.71, 36.0])
    for datum in (WGS84, CGCS2000):
        x, y = to_wgs84(lon, lat, datum)
        np.testing.assert_array_equal(x, lon)
        np.testing.assert_array_equal(y, lat)
        assert x is not lon


# --- array handling ----------------------------------------------------------


@pytest.mark.parametrize("datum", [GCJ02, BD09, Datum(DatumKind.EPSG, 3857)])
def test_shape_is_preserved(datum: Datum) -> None:
    lon = np.full((3, 4), 119.16)
    lat = np.full((3, 4), 36.71)
    x, y = from_wgs84(lon, lat, datum)
    assert x.shape == y.shape == (3, 4)
    bx, by = to_wgs84(x, y, datum)
    assert bx.shape == by.shape == (3, 4)
    assert np.allclose(bx, lon) and np.allclose(by, lat)


def test_scalars_and_empty_arrays() -> None:
    x, y = from_wgs84(119.16, 36.71, GCJ02)
    assert x.shape == y.shape == ()
    ex, ey = to_wgs84(np.array([]), np.array([]), GCJ02)
    assert ex.shape == ey.shape == (0,)


def test_mismatched_shapes_raise() -> None:
    with pytest.raises(ValueError, match="same shape"):
        to_wgs84(np.zeros(3), np.zeros(2), GCJ02)


def test_nan_passes_through() -> None:
    x, y = to_wgs84(np.array([np.nan, 119.16]), np.array([np.nan, 36.71]), GCJ02)
    assert np.isnan(x[0]) and np.isnan(y[0])
    assert np.isfinite(x[1]) and np.isfinite(y[1])
