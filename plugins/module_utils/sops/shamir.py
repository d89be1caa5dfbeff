"""Combining SOPS key-group shares (Shamir secret sharing over GF(2^8), as sops does it).

A share is the secret's length of polynomial values followed by one byte: its x coordinate.
The secret is each byte's polynomial evaluated at x = 0 (Lagrange interpolation).
"""

from __future__ import annotations

from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import SopsError


def gf_mul(a, b):
    """Multiply in GF(2^8) with the AES reduction polynomial x^8 + x^4 + x^3 + x + 1."""
    result = 0
    while b:
        if b & 1:
            result ^= a
        a = ((a << 1) ^ 0x11B) if a & 0x80 else (a << 1)
        b >>= 1
    return result


def gf_inverse(a):
    # a^254 is the inverse in GF(2^8) (a^255 == 1 for every non-zero a).
    result, power, exponent = 1, a, 254
    while exponent:
        if exponent & 1:
            result = gf_mul(result, power)
        power = gf_mul(power, power)
        exponent >>= 1
    return result


def interpolate_at_zero(xs, ys):
    """Value at x = 0 of the polynomial through the points (xs[i], ys[i]); subtraction is XOR."""
    result = 0
    for i, (x_i, y_i) in enumerate(zip(xs, ys)):
        basis = 1
        for j, x_j in enumerate(xs):
            if i != j:
                basis = gf_mul(basis, gf_mul(x_j, gf_inverse(x_i ^ x_j)))
        result ^= gf_mul(y_i, basis)
    return result


def combine(shares):
    """Recover the secret from at least ``threshold`` shares (bytes of equal length)."""
    shares = [bytes(share) for share in shares]
    if len(shares) < 2:
        raise SopsError("Shamir combine needs at least two key group shares")
    length = len(shares[0])
    if length < 2 or any(len(share) != length for share in shares):
        raise SopsError("key group shares have inconsistent lengths")
    xs = [share[-1] for share in shares]
    if len(set(xs)) != len(xs):
        raise SopsError("duplicate key group shares")
    return bytes(interpolate_at_zero(xs, [share[i] for share in shares]) for i in range(length - 1))
