"""nbgrader configuration: lets `nbgrader ...` run from the repository root.

solutions/<assignment>/<notebook>.ipynb is nbgrader's source directory and exercises/ its release
directory. The instructors' toolkit (`python -m grader`) passes the same settings explicitly.
"""

c = get_config()  # injected by traitlets when nbgrader loads this file

c.CourseDirectory.course_id = "gru-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
# Only notebooks are part of an assignment; caches and checkpoints never are.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
