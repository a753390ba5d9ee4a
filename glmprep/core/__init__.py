"""The pure core: tokenizer, keyed random streams, sample builder, cleaning, filters, MinHash,
validator, inspect and report. Plain Python and NumPy over strings and arrays; no Beam."""
