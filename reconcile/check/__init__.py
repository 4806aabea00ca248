"""The check stage: judge each hour window's archived log rows against the requests the
load balancer served.
"""
