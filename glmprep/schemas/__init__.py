"""glmprep.schemas: the contract. The shard format (Arrow schema + metadata) and its writer
(``shard``), its reader and checks (``reader``), the run's manifest (``manifest``)."""
from glmprep.schemas.reader import ShardReader, check_shard  # noqa: F401
from glmprep.schemas.shard import (  # noqa: F401
    FORMAT_VERSION, OBJECTIVES, ShardFormatError, ShardMetadata, shard_schema, write_shard,
)
