"""glmprep.transforms"""
