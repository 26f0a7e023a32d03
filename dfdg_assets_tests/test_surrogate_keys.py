"""The citizen's surrogate key: a keyed BLAKE2b hash of the CPR number (63 bits). Keys must never
change for a given warehouse secret, whatever the code computing them: every stored fact and
dimension row carries them."""

import hashlib

import polars as pl

from dfdg_assets.core.cpr import surrogate_keys

SECRET = bytes(range(32))


def _plain(cpr: str, secret: bytes) -> int:
    digest = hashlib.blake2b(cpr.encode(), key=secret, digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFF_FFFF_FFFF_FFFF


def test_keys_are_the_keyed_hash_of_each_number_in_input_order():
    cprs = pl.Series(["0101801234", "3112999999", "0101801234", "6102034321"])
    keys = surrogate_keys(cprs, SECRET)
    assert keys.dtype == pl.Int64
    assert keys.to_list() == [_plain(c, SECRET) for c in cprs]
    assert keys[0] == keys[2] and keys.n_unique() == 3
    assert (keys >= 0).all()


def test_a_key_is_pinned_for_a_fixed_secret():
    # a changed value here means every warehouse's keys would change: never accept that lightly
    assert surrogate_keys(pl.Series(["0101801234"]), SECRET).item() == 6685902311069221388
    assert surrogate_keys(pl.Series(["0101801234"]), b"other").item() != 6685902311069221388


def test_no_numbers_no_keys():
    assert surrogate_keys(pl.Series([], dtype=pl.String), SECRET).to_list() == []
