package dev.nocalhost;

/** The values of nh_error_code. */
public enum ErrorCode {
    OK(0), ERROR(-1), EINVAL(-2), ENOMEM(-3), ECONFIG(-4), ECONNECT(-5), ETLS(-6), ETIMEOUT(-7),
    ECANCELLED(-8), ENOTFOUND(-9), EEXISTS(-10), ECONFLICT(-11), EUNAUTHORIZED(-12), EFORBIDDEN(-13),
    EINVALID(-14), EGONE(-15), ETOOMANY(-16), ESERVER(-17), EPROTOCOL(-18), EIO(-19), EBUSY(-20),
    EUNSUPPORTED(-21), ESTATE(-22);

    private final int value;

    ErrorCode(int value) { this.value = value; }

    public int value() { return value; }

    /** The C name, e.g. "NH_ENOTFOUND". */
    public String cName() { return dev.nocalhost.jni.NH.nh_error_name(value); }

    public static ErrorCode of(int value) {
        for (ErrorCode c : values()) if (c.value == value) return c;
        return ERROR;
    }
}
