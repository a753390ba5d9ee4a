"""glmprep.pipeline"""
