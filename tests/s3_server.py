"""Helpers for tests whose offline store is on the S3-compatible server of ``s3_endpoint``."""

from __future__ import annotations


def s3_config(endpoint: str, bucket: str) -> tuple[str, str]:
    """``featurestore.toml`` lines putting the offline store in ``bucket``: the top-level key
    and the ``[offline.storage_options]`` table."""
    import httpx

    httpx.put(f"{endpoint}/{bucket}").raise_for_status()
    top = f'offline_store = "s3://{bucket}/offline"\n'
    table = (
        "[offline.storage_options]\n"
        f'aws_endpoint_url = "{endpoint}"\n'
        'aws_access_key_id = "testing"\n'
        'aws_secret_access_key = "testing"\n'
        'aws_region = "us-east-1"\n'
        'aws_allow_http = "true"\n'
    )
    return top, table
