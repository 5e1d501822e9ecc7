"""The instructors' toolkit around nbgrader: release, consistency checks, autograding, feedback.

Run it as ``python -m grader {release,check,autograde}``; see ARCHITECTURE.md for the data flow.
"""
