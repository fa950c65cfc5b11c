package io.nthlb.rules;

/** Where a rule was written: the file and the 1-based line, for error messages and logs. */
public record Origin(String file, int line) {

    @Override
    public String toString() {
        return file + ":" + line;
    }
}
