package dev.ferry.mirror;

import org.apache.kafka.common.config.ConfigException;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * The legacy-to-new topic name map, parsed from {@code legacy:new,legacy:new,...}.
 *
 * <p>A parsed map is a bijection with no chains: every legacy name maps to one new name, no two
 * legacy names share a new name, and no new name is itself renamed by another entry. Chains and
 * cycles ({@code a:b,b:c} or {@code a:b,b:a}) are refused because MM2 walks
 * {@code upstreamTopic} until it returns null or the same name: on a cycle that walk never ends, on a
 * chain {@code originalTopic(c)} would answer {@code a} although {@code c} mirrors {@code b}.
 *
 * <p>A self-pair {@code a:a} is allowed: the topic keeps its name on the new cluster, and unlike an
 * unmapped topic it still maps back ({@code upstreamTopic(a) == a}, which MM2's walks treat as the
 * end of the chain). This is how a topic migrates without a rename yet stays paired by MM2.
 *
 * <p>Immutable; parsing reports every malformed entry at once, not only the first.
 */
public final class RenameMap {

    /** Kafka's own rule (org.apache.kafka.common.internals.Topic): legal characters and length. */
    private static final Pattern LEGAL_TOPIC = Pattern.compile("[a-zA-Z0-9._-]+");
    private static final int MAX_TOPIC_LENGTH = 249;

    public static final RenameMap EMPTY = new RenameMap(Collections.emptySortedMap(), Collections.emptyMap());

    private final SortedMap<String, String> forward;
    private final Map<String, String> reverse;

    private RenameMap(SortedMap<String, String> forward, Map<String, String> reverse) {
        this.forward = forward;
        this.reverse = reverse;
    }

    /**
     * Parses the rename list.
     *
     * @param configName the configuration key, used in error messages
     * @param value      {@code legacy:new} pairs separated by commas; blank means no renames
     * @param reserved   names that may not appear on either side (MM2 internal and heartbeats topics)
     * @throws ConfigException naming every bad entry
     */
    public static RenameMap parse(String configName, String value, Predicate<String> reserved) {
        if (value == null || value.isBlank()) {
            return EMPTY;
        }
        List<String> problems = new ArrayList<>();
        SortedMap<String, String> forward = new TreeMap<>();
        Map<String, String> reverse = new HashMap<>();
        // Entry text per name, to say which earlier entry a duplicate collides with.
        Map<String, String> entryOfLegacy = new HashMap<>();
        Map<String, String> entryOfNew = new HashMap<>();

        String[] entries = value.split(",", -1);
        for (int i = 0; i < entries.length; i++) {
            String entry = entries[i].trim();
            String where = "entry " + (i + 1) + " '" + entry + "'";
            String[] sides = entry.split(":", -1);
            if (entry.isEmpty()) {
                problems.add(where + " is empty");
                continue;
            }
            if (sides.length == 1) {
                problems.add(where + " has no ':' (expected legacy:new)");
                continue;
            }
            if (sides.length > 2) {
                problems.add(where + " has more than one ':' (expected legacy:new)");
                continue;
            }
            String legacy = sides[0].trim();
            String renamed = sides[1].trim();
            boolean valid = checkName(where, "legacy", legacy, reserved, problems);
            valid &= checkName(where, "new", renamed, reserved, problems);
            if (!valid) {
                continue;
            }
            if (entryOfLegacy.containsKey(legacy)) {
                problems.add(where + " renames legacy topic '" + legacy + "' again (first in "
                        + entryOfLegacy.get(legacy) + ")");
                continue;
            }
            if (entryOfNew.containsKey(renamed)) {
                problems.add(where + " reuses new name '" + renamed + "' (first in "
                        + entryOfNew.get(renamed) + "); the map must be one-to-one");
                continue;
            }
            entryOfLegacy.put(legacy, where);
            entryOfNew.put(renamed, where);
            forward.put(legacy, renamed);
            reverse.put(renamed, legacy);
        }

        // Chains and cycles: a new name that another entry renames again. Checked after all
        // entries are read so that order does not matter; a self-pair is not a chain.
        for (Map.Entry<String, String> e : forward.entrySet()) {
            String legacy = e.getKey();
            String renamed = e.getValue();
            if (!legacy.equals(renamed) && forward.containsKey(renamed)) {
                problems.add(entryOfLegacy.get(legacy) + " renames to '" + renamed
                        + "', which " + entryOfLegacy.get(renamed)
                        + " renames again; chains and cycles are not allowed");
            }
        }

        if (!problems.isEmpty()) {
            throw new ConfigException("Invalid " + configName + " (" + problems.size()
                    + (problems.size() == 1 ? " problem" : " problems") + "): "
                    + String.join("; ", problems));
        }
        return new RenameMap(Collections.unmodifiableSortedMap(forward), Collections.unmodifiableMap(reverse));
    }

    private static boolean checkName(String where, String side, String name, Predicate<String> reserved,
                                     List<String> problems) {
        if (name.isEmpty()) {
            problems.add(where + " has an empty " + side + " name");
            return false;
        }
        if (name.length() > MAX_TOPIC_LENGTH || !LEGAL_TOPIC.matcher(name).matches()
                || name.equals(".") || name.equals("..")) {
            problems.add(where + ": " + side + " name '" + name
                    + "' is not a legal Kafka topic name ([a-zA-Z0-9._-], at most 249 characters)");
            return false;
        }
        if (reserved.test(name)) {
            problems.add(where + ": " + side + " name '" + name
                    + "' is an internal or heartbeats topic, which MM2 names itself");
            return false;
        }
        return true;
    }

    /** The new name of a legacy topic, or null when it is not renamed. */
    public String newName(String legacy) {
        return forward.get(legacy);
    }

    /** The legacy name a new topic mirrors, or null when the name is not a rename target. */
    public String legacyName(String renamed) {
        return reverse.get(renamed);
    }

    /** Legacy name to new name, sorted by legacy name. */
    public SortedMap<String, String> asMap() {
        return forward;
    }

    public int size() {
        return forward.size();
    }

    public boolean isEmpty() {
        return forward.isEmpty();
    }

    /** The canonical form: entries sorted by legacy name, as the compiler renders them. */
    @Override
    public String toString() {
        StringBuilder out = new StringBuilder();
        forward.forEach((legacy, renamed) -> {
            if (out.length() > 0) {
                out.append(',');
            }
            out.append(legacy).append(':').append(renamed);
        });
        return out.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RenameMap && ((RenameMap) o).forward.equals(forward);
    }

    @Override
    public int hashCode() {
        return forward.hashCode();
    }
}
