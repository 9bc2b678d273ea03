"""Photos on S3-compatible object storage (DJANGO_PHOTO_STORAGE=s3), against a real S3 server.

moto's server mode runs in this process on a free local port (one per pytest-xdist worker) and
speaks the S3 HTTP API, so django-storages and boto3 go through their real network path; nothing
outside the machine is needed. The storage options come from smpclinic/settings.py itself, built
in a subprocess from the environment a deploy would set.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from moto.server import ThreadedMotoServer
from PIL import ExifTags, Image

from clients import services
from clients.models import Photo
from clients.tests import images
from clients.tests.factories import staff_user
from smpclinic.tests.logins import login_as
from treatments.tests.factories import published_pair

BASE_DIR = Path(__file__).resolve().parents[2]
PUBLIC_GRANTEES = {
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
}
KEY_ID, SECRET = "moto-test-key", "moto-test-secret"


def settings_from_env(**env: str) -> subprocess.CompletedProcess:
    """Import smpclinic.settings in a fresh interpreter with this environment; print STORAGES as JSON."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DJANGO_PHOTO", "PHOTO_"))}
    code = "import json, smpclinic.settings as s; print(json.dumps(s.STORAGES))"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on a free port of 127.0.0.1, with one bucket; stopped after the session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        bucket = f"smp-photos-{uuid.uuid4().hex[:12]}"
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="eu-west-2",
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
        )
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
        yield {"endpoint": endpoint, "bucket": bucket, "client": s3}
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_storages(s3_server):
    """STORAGES exactly as settings.py builds it for a deploy on this server."""
    result = settings_from_env(
        DJANGO_PHOTO_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME=s3_server["bucket"],
        AWS_S3_ENDPOINT_URL=s3_server["endpoint"],
        AWS_S3_REGION_NAME="eu-west-2",
        AWS_ACCESS_KEY_ID=KEY_ID,
        AWS_SECRET_ACCESS_KEY=SECRET,
        AWS_S3_ADDRESSING_STYLE="path",
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def on_s3(settings, s3_storages, s3_server, tmp_path):
    # After the autouse local-disk fixture, so this switch wins for the test.
    settings.STORAGES = {**settings.STORAGES, "default": s3_storages["default"], "private": s3_storages["private"]}
    return s3_server


def keys(s3_server) -> set[str]:
    listing = s3_server["client"].list_objects_v2(Bucket=s3_server["bucket"])
    return {item["Key"] for item in listing.get("Contents", [])}


def body(s3_server, key: str) -> bytes:
    return s3_server["client"].get_object(Bucket=s3_server["bucket"], Key=key)["Body"].read()


def add_photo(clinic, *, data: bytes | None = None) -> Photo:
    upload = services.PhotoUpload(
        file=SimpleUploadedFile("IMG_0042.jpg", data or images.jpeg(gps=True), content_type="image/jpeg"),
        angle=Photo.Angle.CROWN,
    )
    [photo] = services.photos_add(
        client=clinic["client"],
        appointment=clinic["session"],
        uploads=[upload],
        phase=Photo.Phase.BEFORE,
        by=clinic["technician"].user,
    )
    return photo


def test_settings_build_a_private_bucket_storage(s3_storages):
    private = s3_storages["private"]
    assert private["BACKEND"] == "storages.backends.s3.S3Storage"
    options = private["OPTIONS"]
    assert options["default_acl"] == "private"
    assert options["file_overwrite"] is False
    assert options["querystring_auth"] is True
    assert options["querystring_expire"] <= 60
    assert options["location"] == "private"
    assert options["custom_domain"] is None
    assert s3_storages["staticfiles"]["BACKEND"] != private["BACKEND"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_PHOTO_STORAGE": "ftp"}, "DJANGO_PHOTO_STORAGE='ftp' is not local or s3"),
        ({"DJANGO_PHOTO_STORAGE": "s3"}, "AWS_STORAGE_BUCKET_NAME='' is not a bucket name"),
        ({"DJANGO_PHOTO_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "Bad_Bucket"}, "is not a bucket name"),
        (
            {"DJANGO_PHOTO_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "photos", "AWS_DEFAULT_ACL": "public-read"},
            "AWS_DEFAULT_ACL='public-read' is not allowed",
        ),
        (
            {"DJANGO_PHOTO_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "photos", "AWS_S3_ENDPOINT_URL": "minio:9000"},
            "AWS_S3_ENDPOINT_URL='minio:9000' is not a server address",
        ),
        (
            {"DJANGO_PHOTO_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "photos", "AWS_ACCESS_KEY_ID": "only-one"},
            "Set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        ),
        (
            {"DJANGO_PHOTO_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "photos", "PHOTO_STORAGE_PREFIX": "a/../b"},
            "PHOTO_STORAGE_PREFIX='a/../b' is not a key prefix",
        ),
    ],
    ids=["backend", "no-bucket", "bad-bucket", "public-acl", "endpoint", "half-credentials", "prefix"],
)
def test_settings_refuse_bad_object_storage_values_loudly(env, message):
    result = settings_from_env(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


@pytest.mark.django_db
def test_an_upload_is_stored_in_the_bucket_under_the_private_prefix_without_metadata(on_s3, clinic, tmp_path):
    photo = add_photo(clinic)

    image_key, thumb_key = f"private/{photo.image.name}", f"private/{photo.thumbnail.name}"
    assert photo.image.name.startswith("photos/")
    assert photo.thumbnail.name.startswith("thumbs/")
    assert {image_key, thumb_key} <= keys(on_s3)
    for key in (image_key, thumb_key):
        data = body(on_s3, key)
        assert b"TabletCam" not in data
        with Image.open(io.BytesIO(data)) as stored:
            assert stored.format == "JPEG"
            assert len(stored.getexif()) == 0
            assert stored.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
    with Image.open(io.BytesIO(body(on_s3, thumb_key))) as thumb:
        assert max(thumb.size) <= 480
    assert (photo.width, photo.height) == (64, 48)
    # Nothing went to the local disk on the way.
    assert not list(tmp_path.rglob("*.jpg"))


@pytest.mark.django_db
def test_objects_are_private_and_never_publicly_readable(on_s3, clinic):
    photo = add_photo(clinic)
    for name in (photo.image.name, photo.thumbnail.name):
        key = f"private/{name}"
        acl = on_s3["client"].get_object_acl(Bucket=on_s3["bucket"], Key=key)
        grantees = {grant["Grantee"].get("URI") for grant in acl["Grants"]}
        assert not grantees & PUBLIC_GRANTEES
        assert {grant["Permission"] for grant in acl["Grants"]} == {"FULL_CONTROL"}
        # A browser given the object's address, with no credentials, is refused.
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{on_s3['endpoint']}/{on_s3['bucket']}/{key}", timeout=10)
        assert refused.value.code == 403
    # Should anything ever ask the storage for a URL, it is signed and short-lived, never bare.
    url = photo.image.url
    assert "X-Amz-Signature=" in url
    assert "X-Amz-Expires=60" in url


@pytest.mark.django_db
@pytest.mark.parametrize("variant", ["full", "thumb"])
@pytest.mark.parametrize("who", ["technician", "manager"])
def test_the_photo_view_streams_the_object_to_allowed_staff(on_s3, clinic, client, who, variant):
    photo = add_photo(clinic)
    user = clinic["technician"].user if who == "technician" else staff_user(role="Manager", username="boss")
    login_as(client, user)

    response = client.get(reverse("staff:photo_file", args=[photo.pk, variant]))

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "image/jpeg"
    assert "no-store" in response["Cache-Control"]
    field = photo.thumbnail if variant == "thumb" else photo.image
    assert b"".join(response.streaming_content) == body(on_s3, f"private/{field.name}")
    # Streamed by Django, not a redirect to the bucket.
    assert "Location" not in response


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 302), ("reception", 403), ("other technician", 404)],
)
def test_the_photo_view_refuses_everyone_else(on_s3, clinic, client, who, expected):
    photo = add_photo(clinic)
    if who == "reception":
        login_as(client, staff_user(role="Reception", username="desk"))
    elif who == "other technician":
        login_as(client, clinic["other"].user)

    for variant in ("full", "thumb"):
        response = client.get(reverse("staff:photo_file", args=[photo.pk, variant]))
        assert response.status_code == expected
        assert not response.streaming
        if expected == 302:
            assert response["Location"].startswith(reverse("staff:login"))
            assert on_s3["endpoint"] not in response["Location"]


@pytest.mark.django_db
def test_a_photo_whose_object_is_gone_answers_404(on_s3, clinic, client):
    photo = add_photo(clinic)
    on_s3["client"].delete_object(Bucket=on_s3["bucket"], Key=f"private/{photo.image.name}")
    login_as(client, clinic["technician"].user)
    assert client.get(reverse("staff:photo_file", args=[photo.pk, "full"])).status_code == 404


@pytest.mark.django_db
def test_deleting_a_photo_deletes_its_objects(on_s3, clinic, django_capture_on_commit_callbacks):
    photo = add_photo(clinic)
    stored = {f"private/{photo.image.name}", f"private/{photo.thumbnail.name}"}
    assert stored <= keys(on_s3)

    with django_capture_on_commit_callbacks(execute=True):
        services.photo_delete(photo=photo, by=clinic["technician"].user)

    assert not stored & keys(on_s3)
    assert not Photo.objects.filter(pk=photo.pk).exists()


@pytest.mark.django_db
def test_a_failed_upload_leaves_no_object_behind(on_s3, clinic, monkeypatch):
    before = keys(on_s3)

    def audit_fails(**kwargs):
        raise RuntimeError("the audit table is unavailable")

    monkeypatch.setattr(services, "audit_record", audit_fails)
    with pytest.raises(RuntimeError):
        add_photo(clinic)

    assert keys(on_s3) == before
    assert not Photo.objects.filter(appointment=clinic["session"]).exists()


@pytest.mark.django_db
def test_the_results_page_streams_consented_photos_from_the_bucket_and_nothing_else(on_s3, frozen_now, client):
    _before, after = published_pair()
    assert f"private/{after.image.name}" in keys(on_s3)

    response = client.get(reverse("treatments:results_photo", args=[after.pk, "full"]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == body(on_s3, f"private/{after.image.name}")
    assert "Location" not in response

    Photo.objects.filter(pk=after.pk).update(marketing_consent=False)
    assert client.get(reverse("treatments:results_photo", args=[after.pk, "full"])).status_code == 404
