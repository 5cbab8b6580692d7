package dev.nocalhost;

import java.nio.charset.StandardCharsets;

/** The 2xx answer to {@link Client#request}. */
public final class Response {
    private final int status;
    private final byte[] body;

    Response(int status, byte[] body) {
        this.status = status;
        this.body = body;
    }

    public int status() { return status; }
    public byte[] body() { return body.clone(); }
    public String text() { return new String(body, StandardCharsets.UTF_8); }
}
