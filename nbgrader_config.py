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

# Grading and feedback go through the grader only: plain `nbgrader autograde` would run untrusted
# notebooks with none of its defences (sandbox, scan, re-check), and `nbgrader generate_feedback`
# on graded notebooks would publish the hidden tests (nbgrader issue #917).
_FEEDBACK = "python -m grader autograde (it writes OUT/feedback/, without hidden tests)"
_REFUSED = {
    "autograde": "python -m grader autograde SUBMITTED --out OUT",
    "generate_feedback": _FEEDBACK,
    "feedback": _FEEDBACK,
}


def _refuse_unsafe_commands() -> None:
    import sys

    for word in sys.argv[1:]:
        if word in _REFUSED:
            sys.exit(
                f"nbgrader {word} is disabled in this course: it would grade untrusted notebooks "
                f"outside the grader's sandbox, or publish hidden tests. Use: {_REFUSED[word]}"
            )
        if not word.startswith("-"):
            return  # the subcommand was another one


_refuse_unsafe_commands()
c.Autograde.autograde_preprocessors = []  # were this file read another way: grade nothing
c.GenerateFeedback.preprocessors = []
