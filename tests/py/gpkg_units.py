"""Reading a GeoPackage's layers with sqlite3 + shapely (not bando's code), and the membership
rule bando's statistics, area scopes and aggregates state: a feature belongs to the unit whose
polygon covers its centroid, the lowest fid when several do. Shared by the oracles."""
from shapely import wkb


def geometry(blob):
    """The shapely geometry of a GeoPackage binary geometry blob."""
    flags = blob[3]
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(flags >> 1) & 7]
    return wkb.loads(bytes(blob[8 + envelope:]))


def units(con, unit_layer):
    """[(fid, polygon, code)] of a unit layer, by fid."""
    rows = con.execute(f'SELECT fid, geom, code FROM "{unit_layer}" ORDER BY fid')
    return [(fid, geometry(g), str(code)) for fid, g, code in rows]


def holder(unit_list, shape):
    """The unit (fid, polygon, code) holding `shape`'s centroid, or None."""
    centroid = shape.centroid
    return next((u for u in unit_list if u[1].covers(centroid)), None)
