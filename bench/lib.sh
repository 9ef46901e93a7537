# bench/lib.sh — what the bench scripts share: stop the processes they started
# (their PIDs in the array PIDS), remove their temp dir TMP at exit, and find a
# free 127.0.0.1 port. Sourced after log(), TMP and PIDS are set; installs the
# EXIT / INT / TERM traps.
# shellcheck shell=bash

stop_pid() {                     # stop one process we started: TERM, then KILL after 10 s
    local pid=$1 i
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "pid $pid did not exit after SIGTERM in 10 s; SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
    local keep=() q
    for q in "${PIDS[@]}"; do [[ $q == "$pid" ]] || keep+=("$q"); done
    PIDS=("${keep[@]}")
}

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    PIDS=()
    rm -rf -- "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {                    # a 127.0.0.1 port with no listener (connect is refused)
    local p i
    for ((i = 0; i < 100; i++)); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}
