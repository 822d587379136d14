"""The silver job's own S3 writes (dms/io.py): SSE-KMS under the configured key."""

from claims_platform.dms.io import read_text, write_text


def test_write_text_to_s3_is_kms_encrypted_with_the_configured_key(
    s3, bucket, kms_key_arn, monkeypatch
):
    monkeypatch.setenv("CLAIMS_KMS_KEY_ID", kms_key_arn)
    uri = f"s3://{bucket}/lake/batches/b1/_files.json"
    write_text(uri, '{"batch_id": "b1"}')
    head = s3.head_object(Bucket=bucket, Key="lake/batches/b1/_files.json")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == kms_key_arn
    assert read_text(uri) == '{"batch_id": "b1"}'


def test_without_a_configured_key_s3_writes_still_use_kms(s3, bucket, monkeypatch):
    monkeypatch.delenv("CLAIMS_KMS_KEY_ID", raising=False)
    write_text(f"s3://{bucket}/x.json", "{}")
    assert s3.head_object(Bucket=bucket, Key="x.json")["ServerSideEncryption"] == "aws:kms"
