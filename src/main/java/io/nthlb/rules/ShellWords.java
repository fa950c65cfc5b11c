package io.nthlb.rules;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits a line into words the way a POSIX shell would for a plain command: blanks separate words,
 * single quotes are literal, double quotes allow {@code \"} and {@code \\}, a backslash outside quotes
 * escapes the next character, and an unquoted {@code #} at the start of a word ends the line.
 */
final class ShellWords {
    private ShellWords() {
    }

    /** Thrown for text a shell would also refuse, such as an unterminated quote. */
    static final class QuotingException extends Exception {
        private static final long serialVersionUID = 1L;

        QuotingException(String message) {
            super(message);
        }
    }

    static List<String> split(String line) throws QuotingException {
        List<String> words = new ArrayList<>();
        StringBuilder word = new StringBuilder();
        boolean inWord = false;
        int i = 0;
        int n = line.length();
        while (i < n) {
            char c = line.charAt(i);
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                if (inWord) {
                    words.add(word.toString());
                    word.setLength(0);
                    inWord = false;
                }
                i++;
            } else if (c == '#' && !inWord) {
                break;
            } else if (c == '\'') {
                int end = line.indexOf('\'', i + 1);
                if (end < 0) {
                    throw new QuotingException("unterminated quoted string");
                }
                word.append(line, i + 1, end);
                inWord = true;
                i = end + 1;
            } else if (c == '"') {
                i++;
                boolean closed = false;
                while (i < n) {
                    char d = line.charAt(i);
                    if (d == '"') {
                        closed = true;
                        i++;
                        break;
                    }
                    if (d == '\\' && i + 1 < n && "\"\\$`".indexOf(line.charAt(i + 1)) >= 0) {
                        word.append(line.charAt(i + 1));
                        i += 2;
                    } else {
                        word.append(d);
                        i++;
                    }
                }
                if (!closed) {
                    throw new QuotingException("unterminated quoted string");
                }
                inWord = true;
            } else if (c == '\\') {
                if (i + 1 < n) {
                    word.append(line.charAt(i + 1));
                }
                inWord = true;
                i += 2;
            } else {
                word.append(c);
                inWord = true;
                i++;
            }
        }
        if (inWord) {
            words.add(word.toString());
        }
        return words;
    }
}
