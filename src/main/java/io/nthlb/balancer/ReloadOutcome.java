package io.nthlb.balancer;

import java.util.List;

/**
 * What a reload did: applied the new file, rejected it for its errors, or failed to apply a valid file
 * (a listener that could not be opened, say). Only {@link Status#APPLIED} changes anything.
 *
 * @param status   which of the three
 * @param messages for {@code APPLIED} a summary; for {@code REJECTED} one {@code FILE:LINE: message} per error;
 *                 for {@code FAILED} why
 */
public record ReloadOutcome(Status status, List<String> messages) {

    /** The three ways a reload ends, with the HTTP status and the exit status each is reported as. */
    public enum Status {
        APPLIED(200, 0),
        /** The file has errors; iptables exits 2 for the same errors, so {@code nthlb reload} does too. */
        REJECTED(400, 2),
        FAILED(500, 1);

        private final int httpStatus;
        private final int exitCode;

        Status(int httpStatus, int exitCode) {
            this.httpStatus = httpStatus;
            this.exitCode = exitCode;
        }

        public int httpStatus() {
            return httpStatus;
        }

        public int exitCode() {
            return exitCode;
        }

        /** The status an HTTP status stands for, or {@code null} for one a reload never answers with. */
        public static Status ofHttpStatus(int httpStatus) {
            for (Status status : values()) {
                if (status.httpStatus == httpStatus) {
                    return status;
                }
            }
            return null;
        }
    }

    public ReloadOutcome {
        messages = List.copyOf(messages);
    }

    public static ReloadOutcome applied(String summary) {
        return new ReloadOutcome(Status.APPLIED, List.of(summary));
    }

    public static ReloadOutcome rejected(List<String> errors) {
        return new ReloadOutcome(Status.REJECTED, errors);
    }

    public static ReloadOutcome failed(String why) {
        return new ReloadOutcome(Status.FAILED, List.of(why));
    }

    /** The messages, one per line, each ending in a newline: the HTTP body and what the CLI prints. */
    public String text() {
        StringBuilder out = new StringBuilder();
        for (String message : messages) {
            out.append(message).append('\n');
        }
        return out.toString();
    }
}
