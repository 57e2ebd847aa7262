"""Private keys in DER form and zip archives of credentials stay out of the image.

The keys are throwaway ones made with openssl for this test (ed25519, P-256,
RSA-512), written out as the DER bytes `openssl ... -outform DER` saves.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from reprobox.config import load_config
from reprobox.credential_archives import Finding, der_private_key
from reprobox.credential_files import credential_finding, holds_credentials
from reprobox.image_files import project_files

ED25519_PKCS8 = bytes.fromhex(
    "302e020100300506032b65700422042007f99d0e2c5afbac046037dba84675a30e301a49"
    "f54604fc6ce4cca4ab68f113"
)
EC_SEC1 = bytes.fromhex(
    "30770201010420008d0ec194232b9980a3efb0c18ba487cf319a873b684b067b6745ec62"
    "13ca69a00a06082a8648ce3d030107a144034200049460293591b3ab2d4f82cd40a776a9"
    "6bfd7644add08aeb780fed23ce18df4305590a7d6c6f743dd1c3d20bc2e295e92628b028"
    "e564bb9343500621a1da1f46b4"
)
ED25519_ENCRYPTED_PKCS8 = bytes.fromhex(
    "30819b305706092a864886f70d01050d304a302906092a864886f70d01050c301c0408f8"
    "4b0443841b1a8802020800300c06082a864886f70d02090500301d060960864801650304"
    "012a0410c56480cc1e18d36c14592698f57cd1870440501c5c91c3da9c24b346d7b209e3"
    "ba976e1b7ed177e0958f4e9c427eca016b4ff71a792e04a0639636073edf6120ec43259d"
    "639bdd995248c616209543a02a9d"
)
RSA512_PKCS1 = bytes.fromhex(
    "30820139020100024100aca26fce23ae0d66b0f96ecd0336f0fe1b53b9dac1756c57f9be"
    "e4623e3853151aebd60a334d0cfba0a87ce9410e1fe5d07e16d4227acaff87cac80e3139"
    "ed5f02030100010240368388d8c86d92efc59cce7f50af8dc4402edd3695f69582e66b80"
    "4501aed99500c69dff332461fa543235ad9b94abd043a934d06784c8beed7ffe4d28c69a"
    "01022100d4d9df6fe835de9a76270409d1404660291c9084bb3ca67c228f03bc6dbaf501"
    "022100cfa17c045413914e9efd19d2aae48e6fa763337c0b0237e9c7b038c847ef025f02"
    "207082a21af331d672eb55804af832f3804cfaee615adf9a592fa34d2443147a0102200e"
    "511d4313251244f093953f40876806ececdb34f7715cb7a30c54ae02bfc953022014ff18"
    "5f2cec5546f8b867d33912542c48dbf83a470315474221c53bafe572d2"
)
CERTIFICATE = bytes.fromhex(
    "3082016f30820119a003020102021475e6873d51a14d0dcdada637dec9f69c9a4bfcdf30"
    "0d06092a864886f70d01010b0500300c310a300806035504030c0178301e170d32363132"
    "30353031323934325a170d3236313230363031323934325a300c310a300806035504030c"
    "0178305c300d06092a864886f70d0101010500034b003048024100aca26fce23ae0d66b0"
    "f96ecd0336f0fe1b53b9dac1756c57f9bee4623e3853151aebd60a334d0cfba0a87ce941"
    "0e1fe5d07e16d4227acaff87cac80e3139ed5f0203010001a3533051301d0603551d0e04"
    "160414cca71ced27e5ba2ecb26c7d6ceed76fa4867c1e4301f0603551d23041830168014"
    "cca71ced27e5ba2ecb26c7d6ceed76fa4867c1e4300f0603551d130101ff040530030101"
    "ff300d06092a864886f70d01010b05000341006eba0ee7c78138d8c35b38519e1eed018f"
    "fd239e4f995b215732084c78f5348c7bd12fb15d712540cb5777c04d4968a93b06cb7ec1"
    "b321e8faaa1d028980261d"
)
RSA_PUBLIC = bytes.fromhex(
    "305c300d06092a864886f70d0101010500034b003048024100aca26fce23ae0d66b0f96e"
    "cd0336f0fe1b53b9dac1756c57f9bee4623e3853151aebd60a334d0cfba0a87ce9410e1f"
    "e5d07e16d4227acaff87cac80e3139ed5f0203010001"
)
ED25519_PUBLIC = bytes.fromhex(
    "302a300506032b6570032100160ab0cf79ab253634bbfef551d7f82dd332daf8e67fc3ba"
    "9c8942de754e2858"
)
PRIVATE_KEYS = {
    "ed25519.der": ED25519_PKCS8,
    "ec.der": EC_SEC1,
    "encrypted.p8": ED25519_ENCRYPTED_PKCS8,
    "rsa.key.bin": RSA512_PKCS1,
}
PUBLIC_DER = {"cert.der": CERTIFICATE, "rsa.pub": RSA_PUBLIC, "ed.pub": ED25519_PUBLIC}


@pytest.mark.parametrize("name", sorted(PRIVATE_KEYS))
def test_a_der_private_key_is_found(tmp_path, name):
    (tmp_path / name).write_bytes(PRIVATE_KEYS[name])
    assert der_private_key(PRIVATE_KEYS[name]) is True
    assert holds_credentials(tmp_path / name) is True


@pytest.mark.parametrize(
    "data",
    [
        *PUBLIC_DER.values(),
        ED25519_PKCS8 + b"\n",  # no longer one DER element
        ED25519_PKCS8[:-1],
        b"\x30\x03\x02\x01\x00",  # a sequence of one integer
        b"0,1,2\n3,4,5\n",  # text that starts with the byte 0x30
    ],
)
def test_public_keys_certificates_and_lookalikes_are_not(tmp_path, data):
    assert der_private_key(data) is False
    (tmp_path / "x.bin").write_bytes(data)
    assert holds_credentials(tmp_path / "x.bin") is False


def _zip(members: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


CREDENTIAL_ZIPS = {
    "ssh-backup.zip": {"home/.ssh/id_ed25519": "opaque", "home/notes.txt": "hi"},
    "env.zip": {"proj/.env": "X=1"},
    "gcp.zip": {"keys/credentials.json": "{}"},
    "keys.zip": {"server.pem": "-----BEGIN EC PRIVATE KEY-----\nMHc=\n"},
    "config.zip": {"cfg/app.yaml": "db:\n  password: Zx81kq93\n"},
    "der.zip": {"k.bin": ED25519_PKCS8},
    "tok.zip": {"readme.txt": "use AKIAIOSFODNN7EXAMPLE\n"},
}
ORDINARY_ZIPS = {
    "dataset.zip": {"train/0.txt": "a cat sat", "labels.csv": "id,y\n1,0\n"},
    "certs.zip": {"ca.pem": "-----BEGIN CERTIFICATE-----\nMIIB\n"},
    "code.zip": {"src/auth.py": "import os\nkey = os.environ['K']\n"},
}


@pytest.mark.parametrize("name", sorted(CREDENTIAL_ZIPS))
def test_a_zip_of_credential_files_stays_out(tmp_path, name):
    (tmp_path / name).write_bytes(_zip(CREDENTIAL_ZIPS[name]))
    assert holds_credentials(tmp_path / name) is True


@pytest.mark.parametrize("name", sorted(ORDINARY_ZIPS))
def test_a_zip_of_ordinary_files_goes_in(tmp_path, name):
    (tmp_path / name).write_bytes(_zip(ORDINARY_ZIPS[name]))
    assert holds_credentials(tmp_path / name) is False


def test_a_zip_is_opened_whatever_its_name(tmp_path):
    # A wheel or a checkpoint is a zip too: named so, a bundle of keys would pass.
    data = _zip({"pkg/.env": "X=1"})
    for name in ("pkg-1.0-py3-none-any.whl", "model.pt", "weights.npz", "arch"):
        (tmp_path / name).write_bytes(data)
        assert holds_credentials(tmp_path / name) is True, name


def test_large_members_are_read_through_and_damaged_archives_are_not_clean(tmp_path):
    big = "x: 1\n" * (20 << 10) + "password: Zx81kq93\n"
    (tmp_path / "big.zip").write_bytes(_zip({"app.yaml": big}))
    assert credential_finding(tmp_path / "big.zip") == Finding("app.yaml")
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04not really a zip")
    finding = credential_finding(tmp_path / "bad.zip")
    assert finding is not None and finding.unreadable.startswith("it is damaged")


def test_the_build_leaves_keys_and_archives_out(tmp_path: Path):
    (tmp_path / "reprobox.toml").write_text('command = "python train.py"\n')
    (tmp_path / "train.py").write_text("print(1)\n")
    (tmp_path / "deploy.der").write_bytes(RSA512_PKCS1)
    (tmp_path / "cert.der").write_bytes(CERTIFICATE)
    (tmp_path / "backup.zip").write_bytes(_zip(CREDENTIAL_ZIPS["ssh-backup.zip"]))
    (tmp_path / "data.zip").write_bytes(_zip(ORDINARY_ZIPS["dataset.zip"]))
    assert project_files(load_config(tmp_path)) == ["cert.der", "data.zip", "train.py"]
