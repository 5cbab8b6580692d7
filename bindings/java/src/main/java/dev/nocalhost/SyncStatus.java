package dev.nocalhost;

/**
 * The state and counters of a sync (nh_sync_status). filesDone/filesTotal/
 * bytesDone/bytesTotal count the current round and restart at 0 when the
 * sync becomes idle; the others count since the start. filesDone counts files
 * the server acknowledged; bytesDone counts bytes sent, so it moves while a
 * large file is on its way.
 */
public final class SyncStatus {
    /** nh_sync_state. */
    public enum State { STARTING, SCANNING, CONNECTING, SYNCING, IDLE, DISCONNECTED, PAUSED, ERROR, STOPPED }

    public final State state;
    public final long filesDone, filesTotal, bytesDone, bytesTotal;
    public final long filesSynced, fileErrors, conflicts, reconnects;
    /** The last connection or fatal error (an nh_error_code), or 0. */
    public final int errorCode;

    SyncStatus(long[] v) {
        State[] states = State.values();
        state = v[0] >= 0 && v[0] < states.length ? states[(int) v[0]] : State.ERROR;
        filesDone = v[1];
        filesTotal = v[2];
        bytesDone = v[3];
        bytesTotal = v[4];
        filesSynced = v[5];
        fileErrors = v[6];
        conflicts = v[7];
        reconnects = v[8];
        errorCode = (int) v[9];
    }

    @Override
    public String toString() {
        return state + " files " + filesDone + "/" + filesTotal + " synced " + filesSynced + " errors " + fileErrors;
    }
}
