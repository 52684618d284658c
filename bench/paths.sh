# Sourced by the bench scripts: where the project and its build are.
# TASKDB_BUILD (relative to the project, or absolute) selects the build.
HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd -P)
PROJECT=$(dirname -- "$HERE")
cd "$PROJECT"
BUILD=${TASKDB_BUILD:-build}
TASKSHELL="$PROJECT/$BUILD/taskshell"
case $BUILD in /*) TASKSHELL="$BUILD/taskshell" ;; esac
SQLDUMP="$(dirname -- "$TASKSHELL")/taskdb-sql"
