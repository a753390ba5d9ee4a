"""glmprep: raw text in, validated GLM blank-infilling Arrow shards out."""

__version__ = "0.1.0"
