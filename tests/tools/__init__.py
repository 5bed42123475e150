"""Tools the tests and the bench share, kept out of the product packages: a small raw Kafka
client (``probe``) and request-frame encoders (``kafka_frames``). Import them as
``tests.tools.<module>`` (the repository root on ``sys.path``, as pytest and bench/ set it)."""
