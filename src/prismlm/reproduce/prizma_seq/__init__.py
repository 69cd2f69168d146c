"""prizma_seq"""
