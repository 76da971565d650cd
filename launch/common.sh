# Helpers shared by the launch scripts (sourced, not run): the dry-run
# switch, and printing commands so that a printed line can be pasted.
# shellcheck shell=bash

dry() { case ${DRY_RUN:-0} in 0 | '') return 1 ;; *) return 0 ;; esac; }

# One word, shell-quoted so that the printed line can be pasted. Like
# printf %q, but in single quotes and with a `--flag=` prefix left bare:
# %q's backslashes would make a remote --command unreadable.
quote() {
  local word=$1 flag=''
  if [[ $word =~ ^(--[A-Za-z0-9_.-]+=)(.*)$ ]]; then
    flag=${BASH_REMATCH[1]}
    word=${BASH_REMATCH[2]}
  fi
  if [[ -n $word && $word != *[!A-Za-z0-9_./:=@%+,-]* ]]; then
    printf '%s%s' "$flag" "$word"
  else
    printf "%s'%s'" "$flag" "${word//\'/\'\\\'\'}"
  fi
}

# The words as one quoted command line.
command_line() {
  local sep='' word
  for word in "$@"; do
    printf '%s' "$sep"
    quote "$word"
    sep=' '
  done
}

# Prints the command (DRY_RUN) or echoes it to stderr and runs it.
run() {
  if dry; then
    command_line "$@"
    echo
  else
    echo "+ $(command_line "$@")" >&2
    "$@"
  fi
}
