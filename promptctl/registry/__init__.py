"""The registry: immutable bundles, the stores that hold them, and channels that point at them.

- :mod:`.stores`: one small interface over a local directory and S3 (write-once objects, one
  atomically replaced object per channel); standard library only (boto3 inside the S3 store)
- :mod:`.bundle`: the bundle format, its digest, reading and verifying; standard library only
- :mod:`.channels`: channel records, their hash chain and the ``HEAD.json`` mirror; standard library only
- :mod:`.resolve`: opening a project's registry and naming versions (``v3``, ``production``)
- :mod:`.source`: :class:`~.source.BundleSource`, a bundle seen as a project's files
- :mod:`.publish`: building a bundle from a project and publishing it (git, lint)
- :mod:`.ops`: moving channels and reading the registry (what the commands call)
- :mod:`.verify`: checking every bundle digest and every channel's chain
- :mod:`.actor`: who publishes or moves a channel; :mod:`.formats`: the commands' text output

The runtime imports :mod:`.bundle`, :mod:`.stores` and :mod:`.channels` only, so those three
import nothing beyond the standard library and promptctl's own standard-library modules.
Layout (identical on every store)::

    bundles/v000003.json                write-once
    channels/production/000007.json     write-once record (seq 7); the highest is the head
    channels/production/HEAD.json       a copy of the newest record, replaced atomically
"""
