"""flaskbench: the controller's Python that Ansible and the user call.

plan (bench.yml's parameters and the mode table into the runs), appspec and
reqfiles (a user's flaskbench-app.yml, checked), the code behind the Ansible
plugins (filters, modeslookup, benchcallback: plugins/ holds only the doors
Ansible loads), and the tools profile (make profile) and rolereadmes.
`make venv` installs the package (editable) into .venv.
"""
