#!/usr/bin/env python3
"""The property names a 3D Tiles GLB carries, read from its JSON chunk by this script's own GLB
parsing (not bando's code): the EXT_structural_metadata class properties and the property
table's columns, the table's row count and its `fid` column (store feature ids, INT64).
usage: glb_properties.py GLB_FILE
Prints {"class": [...], "table": [...], "count": N, "fids": [...]} as JSON."""
import json
import struct
import sys

data = open(sys.argv[1], "rb").read()
magic, version, length = struct.unpack_from("<III", data, 0)
if magic != 0x46546C67 or version != 2 or length != len(data):
    sys.exit("glb_properties: not a GLB 2.0 file")
chunk_length, chunk_type = struct.unpack_from("<II", data, 12)
if chunk_type != 0x4E4F534A:
    sys.exit("glb_properties: the first chunk is not JSON")
gltf = json.loads(data[20:20 + chunk_length])
bin_start = 20 + chunk_length + 8
bin_chunk = data[bin_start:bin_start + struct.unpack_from("<I", data, 20 + chunk_length)[0]]
metadata = gltf.get("extensions", {}).get("EXT_structural_metadata", {})
classes = metadata.get("schema", {}).get("classes", {})
tables = metadata.get("propertyTables", [])
fids = []
for table in tables:
    view = gltf["bufferViews"][table["properties"]["fid"]["values"]]
    start = view.get("byteOffset", 0)
    fids += [v for (v,) in struct.iter_unpack("<q", bin_chunk[start:start + view["byteLength"]])]
print(json.dumps({
    "fids": sorted(fids),
    "class": sorted({p for c in classes.values() for p in c.get("properties", {})}),
    "table": sorted({p for t in tables for p in t.get("properties", {})}),
    "count": sum(t.get("count", 0) for t in tables),
}))
