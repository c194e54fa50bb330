"""flaskbench's controller-side Python that is neither a plugin nor the app: the bench's run plan (plan).

The Ansible plugins import it from the repository root (plugins/filter/flaskbench_plan.py);
the tests import it as any module (pytest.ini's pythonpath).
"""
