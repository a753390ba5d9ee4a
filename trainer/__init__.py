"""glmprep.trainer"""
