package dev.nocalhost;

import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The little JSON the binding needs itself: writing the values callers give
 * as Java objects (Map, List or array, String, Number, Boolean, null) and
 * reading answers into Map (LinkedHashMap), List, String, Long or Double,
 * Boolean and null.
 */
final class Json {
    private Json() {}

    static String write(Object value) {
        StringBuilder b = new StringBuilder();
        write(b, value);
        return b.toString();
    }

    private static void write(StringBuilder b, Object v) {
        if (v == null) {
            b.append("null");
        } else if (v instanceof CharSequence) {
            quote(b, v.toString());
        } else if (v instanceof Boolean) {
            b.append(v);
        } else if (v instanceof Number) {
            double d = ((Number) v).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) throw new IllegalArgumentException("JSON has no " + v);
            b.append(v);
        } else if (v instanceof Map) {
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                if (!first) b.append(',');
                first = false;
                quote(b, String.valueOf(e.getKey()));
                b.append(':');
                write(b, e.getValue());
            }
            b.append('}');
        } else if (v instanceof Iterable) {
            b.append('[');
            Iterator<?> it = ((Iterable<?>) v).iterator();
            while (it.hasNext()) {
                write(b, it.next());
                if (it.hasNext()) b.append(',');
            }
            b.append(']');
        } else if (v.getClass().isArray()) {
            b.append('[');
            for (int i = 0, n = Array.getLength(v); i < n; i++) {
                if (i > 0) b.append(',');
                write(b, Array.get(v, i));
            }
            b.append(']');
        } else {
            throw new IllegalArgumentException("cannot write a " + v.getClass().getName() + " as JSON");
        }
    }

    private static void quote(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                    else b.append(c);
            }
        }
        b.append('"');
    }

    static Object parse(String text) {
        Reader r = new Reader(text);
        Object v = r.value();
        r.space();
        if (r.at < text.length()) throw r.error("trailing data");
        return v;
    }

    /** A JSON array of strings (e.g. the names nh_dev_pvc_delete() deleted). */
    static List<String> parseStrings(String text) {
        List<String> out = new ArrayList<>();
        for (Object o : (List<?>) parse(text)) out.add((String) o);
        return out;
    }

    private static final class Reader {
        final String s;
        int at;

        Reader(String s) { this.s = s; }

        IllegalArgumentException error(String what) {
            return new IllegalArgumentException("invalid JSON at offset " + at + ": " + what);
        }

        void space() {
            while (at < s.length() && " \t\r\n".indexOf(s.charAt(at)) >= 0) at++;
        }

        char peek() {
            space();
            if (at >= s.length()) throw error("unexpected end");
            return s.charAt(at);
        }

        void expect(char c) {
            if (peek() != c) throw error("expected '" + c + "'");
            at++;
        }

        Object value() {
            char c = peek();
            switch (c) {
                case '{': {
                    at++;
                    Map<String, Object> m = new LinkedHashMap<>();
                    if (peek() == '}') { at++; return m; }
                    for (;;) {
                        if (peek() != '"') throw error("expected a key");
                        String k = string();
                        expect(':');
                        m.put(k, value());
                        if (peek() == ',') { at++; continue; }
                        expect('}');
                        return m;
                    }
                }
                case '[': {
                    at++;
                    List<Object> l = new ArrayList<>();
                    if (peek() == ']') { at++; return l; }
                    for (;;) {
                        l.add(value());
                        if (peek() == ',') { at++; continue; }
                        expect(']');
                        return l;
                    }
                }
                case '"':
                    return string();
                case 't': return literal("true", Boolean.TRUE);
                case 'f': return literal("false", Boolean.FALSE);
                case 'n': return literal("null", null);
                default:
                    return number();
            }
        }

        Object literal(String word, Object v) {
            if (!s.startsWith(word, at)) throw error("unexpected '" + s.charAt(at) + "'");
            at += word.length();
            return v;
        }

        Object number() {
            int start = at;
            while (at < s.length() && "+-0123456789.eE".indexOf(s.charAt(at)) >= 0) at++;
            String n = s.substring(start, at);
            if (n.isEmpty()) throw error("unexpected '" + s.charAt(at) + "'");
            try {
                if (n.indexOf('.') < 0 && n.indexOf('e') < 0 && n.indexOf('E') < 0) return Long.parseLong(n);
                return Double.parseDouble(n);
            } catch (NumberFormatException e) {
                throw error("bad number " + n);
            }
        }

        String string() {
            expect('"');
            StringBuilder b = new StringBuilder();
            for (;;) {
                if (at >= s.length()) throw error("unterminated string");
                char c = s.charAt(at++);
                if (c == '"') return b.toString();
                if (c != '\\') { b.append(c); continue; }
                if (at >= s.length()) throw error("unterminated string");
                char e = s.charAt(at++);
                switch (e) {
                    case 'n': b.append('\n'); break;
                    case 'r': b.append('\r'); break;
                    case 't': b.append('\t'); break;
                    case 'b': b.append('\b'); break;
                    case 'f': b.append('\f'); break;
                    case 'u':
                        if (at + 4 > s.length()) throw error("bad \\u escape");
                        b.append((char) Integer.parseInt(s.substring(at, at + 4), 16));
                        at += 4;
                        break;
                    default: b.append(e);
                }
            }
        }
    }
}
