"""Reliability and security suite: hostile targets, isolation, bad input, redirect safety."""
