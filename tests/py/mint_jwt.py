"""Mints the keys and tokens of the JWT tests with PyJWT and cryptography, independently of bando.

    python3 tests/py/mint_jwt.py OUT_DIR ISSUER AUDIENCE

Writes OUT_DIR/jwks.json (the public RSA, P-256 and Ed25519 keys, kids rsa/ec/ed, plus a shared
secret bando must never use), OUT_DIR/jwks-rotated.json (the same plus a new Ed25519 key, kid ed2)
and prints a JSON object: case name -> token. Valid cases are signed by a key of the set; the
attacks are the ones bando must refuse with 401 (unsigned, HS256 with the RSA public key as the
secret, expired, not yet valid, wrong issuer or audience, unknown kid, a tampered payload, and a
header algorithm that is not its key's).
"""

import base64
import hashlib
import hmac
import json
import sys
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(algorithm, key, kid: str) -> dict:
    jwk = json.loads(algorithm.to_jwk(key.public_key()))
    jwk["kid"] = kid
    jwk["use"] = "sig"
    return jwk


def unsigned(header: dict, claims: dict, signature: bytes = b"") -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}.{b64(signature)}"


def main() -> None:
    out, issuer, audience = sys.argv[1], sys.argv[2], sys.argv[3]
    now = int(time.time())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed_new = ed25519.Ed25519PrivateKey.generate()
    rogue = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = [
        public_jwk(RSAAlgorithm, rsa_key, "rsa"),
        public_jwk(ECAlgorithm, ec_key, "ec"),
        public_jwk(OKPAlgorithm, ed_key, "ed"),
        {"kty": "oct", "kid": "hs", "alg": "HS256", "k": b64(b"a shared secret bando must not use")},
    ]
    with open(f"{out}/jwks.json", "w") as f:
        json.dump({"keys": keys}, f)
    with open(f"{out}/jwks-rotated.json", "w") as f:
        json.dump({"keys": keys + [public_jwk(OKPAlgorithm, ed_new, "ed2")]}, f)

    def claims(**changes) -> dict:
        base = {"iss": issuer, "aud": audience, "sub": "nguyen.van.a", "iat": now, "exp": now + 3600}
        base.update(changes)
        return {k: v for k, v in base.items() if v is not None}

    def sign(key, alg: str, kid: str, body: dict) -> str:
        return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})

    officer = claims(roles=["officer"], admin_units=["wards:19900"])
    rsa_pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    hs_header = {"alg": "HS256", "typ": "JWT", "kid": "rsa"}
    hs_input = f"{b64(json.dumps(hs_header).encode())}.{b64(json.dumps(officer).encode())}"
    hs_signature = hmac.new(rsa_pem, hs_input.encode(), hashlib.sha256).digest()
    valid = sign(rsa_key, "RS256", "rsa", officer)
    head, _, signature = valid.split(".")
    richer = claims(roles=["admin"], admin_units=["wards:19900"])
    tokens = {
        "rs256_officer": valid,
        "es256_analyst": sign(ec_key, "ES256", "ec", claims(roles="analyst")),
        "eddsa_admin": sign(ed_key, "EdDSA", "ed", claims(roles=["viewer", "admin"])),
        "nested_role": sign(ed_key, "EdDSA", "ed", claims(realm_access={"roles": ["analyst"]})),
        "rotated_key": sign(ed_new, "EdDSA", "ed2", claims(roles=["analyst"], realm_access={"roles": ["analyst"]})),
        "within_leeway": sign(ec_key, "ES256", "ec", claims(roles="analyst", exp=now - 5)),
        "alg_none": unsigned({"alg": "none", "typ": "JWT"}, officer),
        "hs256_public_key": f"{hs_input}.{b64(hs_signature)}",
        "expired": sign(rsa_key, "RS256", "rsa", claims(roles=["officer"], admin_units=["wards:19900"], exp=now - 3600)),
        "not_yet_valid": sign(rsa_key, "RS256", "rsa", claims(roles=["analyst"], nbf=now + 3600)),
        "wrong_issuer": sign(rsa_key, "RS256", "rsa", claims(roles=["analyst"], iss="https://sso.elsewhere.example")),
        "wrong_audience": sign(rsa_key, "RS256", "rsa", claims(roles=["analyst"], aud="another-app")),
        "unknown_kid": sign(rogue, "RS256", "rogue", claims(roles=["admin"])),
        "tampered": f"{head}.{b64(json.dumps(richer).encode())}.{signature}",
        "alg_not_the_keys": sign(rsa_key, "RS256", "ec", claims(roles=["analyst"])),
        "no_such_role": sign(ed_key, "EdDSA", "ed", claims(roles=["mayor"])),
        "scoped_without_scope": sign(ed_key, "EdDSA", "ed", claims(roles=["officer"])),
        "no_expiry": sign(ed_key, "EdDSA", "ed", claims(roles=["analyst"], exp=None)),
    }
    print(json.dumps(tokens))


if __name__ == "__main__":
    main()
