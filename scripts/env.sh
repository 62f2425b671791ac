# scripts/env.sh: sourced by the other scripts. Runs the bootstrap (a no-op in
# seconds once done) and exports where HDF5 and hiredis are. Options for the
# bootstrap come in H5RL_BOOTSTRAP_ARGS (a sourced script would otherwise see
# its caller's arguments).
set -euo pipefail
H5RL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC2086
h5rl_envfile=$("$H5RL_ROOT/scripts/bootstrap" ${H5RL_BOOTSTRAP_ARGS:-} | tail -n 1)
# shellcheck source=/dev/null
. "$h5rl_envfile"
export PATH="$H5RL_HDF5_PREFIX/bin:$PATH"
