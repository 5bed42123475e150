"""Small facts that the renderers, the live checks and the sandbox share, each stated once.

* Where Ferry's pods find a Kubernetes Secret: mounted as a folder ``SECRETS_ROOT/<secret>`` with
  one file per key (``username``, ``password``, ``ca.crt``); the Helm charts mount it there, the
  rendered configs read it there through Kafka's ``DirectoryConfigProvider`` (``${dir:…}``), and
  the live checks (``FERRY_SECRETS_DIR``) and the sandbox (which points it at a local folder)
  follow the same layout.
* Which Java classes Kafka uses for the SASL mechanisms Ferry supports, and the converter that
  copies keys, values and headers byte for byte.
"""

from __future__ import annotations

from typing import Final

SECRETS_ROOT: Final = "/etc/ferry/secrets"

BYTE_ARRAY_CONVERTER: Final = "org.apache.kafka.connect.converters.ByteArrayConverter"

PLAIN_LOGIN_MODULE: Final = "org.apache.kafka.common.security.plain.PlainLoginModule"
SCRAM_LOGIN_MODULE: Final = "org.apache.kafka.common.security.scram.ScramLoginModule"

#: SASL mechanism name (as Kafka spells it) -> the JAAS login module that implements it.
LOGIN_MODULES: Final = {
    "PLAIN": PLAIN_LOGIN_MODULE,
    "SCRAM-SHA-256": SCRAM_LOGIN_MODULE,
    "SCRAM-SHA-512": SCRAM_LOGIN_MODULE,
}
