"""Reading input files, without Beam: options, decompression, the byte ranges a file is
read in, and the parsers that turn a range into ``(key, text)`` documents and rejects.

``glmprep.transforms.read`` wires these into Beam; the file opener is passed in, so the
same code reads local files here and any Beam filesystem there.
"""
