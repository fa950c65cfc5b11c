package io.nthlb.proxy;

/** The per-client limit that refused a connection (see {@link Limits}). */
public enum ClientLimit {
    /** The client already had {@code --max-connections-per-client} connections open. */
    CONNECTIONS("connections", "--max-connections-per-client"),
    /** The client had opened {@code --max-rate-per-client} connections in the last second. */
    RATE("rate", "--max-rate-per-client");

    private final String label;
    private final String option;

    ClientLimit(String label, String option) {
        this.label = label;
        this.option = option;
    }

    /** The metric label: {@code connections} or {@code rate}. */
    public String label() {
        return label;
    }

    /** The option that sets it, for the log. */
    public String option() {
        return option;
    }

    @Override
    public String toString() {
        return label;
    }
}
