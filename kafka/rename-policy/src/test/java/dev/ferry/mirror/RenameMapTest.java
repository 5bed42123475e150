package dev.ferry.mirror;

import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Map;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RenameMapTest {

    private static final String KEY = "replication.policy.ferry.renames";
    private static final Predicate<String> NOTHING_RESERVED = name -> false;

    private static RenameMap parse(String value) {
        return RenameMap.parse(KEY, value, NOTHING_RESERVED);
    }

    private static String error(String value) {
        return assertThrows(ConfigException.class, () -> parse(value)).getMessage();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "\t"})
    void blankMeansNoRenames(String value) {
        assertSame(RenameMap.EMPTY, parse(value));
    }

    @Test
    void nullMeansNoRenames() {
        assertSame(RenameMap.EMPTY, parse(null));
    }

    @Test
    void parsesPairsBothWays() {
        RenameMap map = parse("orders:sales.orders.v1,payments:sales.payments.v1");
        assertEquals("sales.orders.v1", map.newName("orders"));
        assertEquals("orders", map.legacyName("sales.orders.v1"));
        assertEquals("payments", map.legacyName("sales.payments.v1"));
        assertNull(map.newName("sales.orders.v1"));
        assertNull(map.legacyName("orders"));
        assertEquals(2, map.size());
    }

    @Test
    void orderDoesNotMatterAndToStringIsCanonical() {
        RenameMap a = parse("b:y, a:x");
        RenameMap b = parse("a:x,b:y");
        assertEquals(a, b);
        assertEquals(a.hashCode(), b.hashCode());
        assertEquals("a:x,b:y", a.toString());
        assertEquals(Map.of("a", "x", "b", "y"), a.asMap());
    }

    @Test
    void whitespaceAroundNamesIsIgnored() {
        assertEquals("a:x", parse("  a : x  ").toString());
    }

    @Test
    void selfPairKeepsTheNameAndMapsBack() {
        RenameMap map = parse("audit:audit,orders:sales.orders");
        assertEquals("audit", map.newName("audit"));
        assertEquals("audit", map.legacyName("audit"));
    }

    @Test
    void asMapIsReadOnly() {
        assertThrows(UnsupportedOperationException.class, () -> parse("a:b").asMap().put("c", "d"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "orders                 | entry 1 'orders' has no ':'",
        "a:b:c                  | entry 1 'a:b:c' has more than one ':'",
        "':b'                   | entry 1 ':b' has an empty legacy name",
        "'a:'                   | entry 1 'a:' has an empty new name",
        "'a:b,'                 | entry 2 '' is empty",
        "'a:b,,c:d'             | entry 2 '' is empty",
        "'a:b,a:c'              | entry 2 'a:c' renames legacy topic 'a' again (first in entry 1 'a:b')",
        "'a:b,a:b'              | entry 2 'a:b' renames legacy topic 'a' again",
        "'a:c,b:c'              | entry 2 'b:c' reuses new name 'c' (first in entry 1 'a:c')",
        "'a:b,b:a'              | entry 1 'a:b' renames to 'b', which entry 2 'b:a' renames again",
        "'a:b,b:c'              | entry 1 'a:b' renames to 'b', which entry 2 'b:c' renames again",
        "'b:c,a:b'              | entry 2 'a:b' renames to 'b', which entry 1 'b:c' renames again",
        "'a b:c'                | legacy name 'a b' is not a legal Kafka topic name",
        "'a/b:c'                | legacy name 'a/b' is not a legal Kafka topic name",
        "'a:x;y'                | new name 'x;y' is not a legal Kafka topic name",
        "'.:a'                  | legacy name '.' is not a legal Kafka topic name",
        "'a:..'                 | new name '..' is not a legal Kafka topic name",
    })
    void malformedEntriesAreNamed(String value, String expected) {
        String message = error(value);
        assertTrue(message.startsWith("Invalid " + KEY), message);
        assertTrue(message.contains(expected), message);
    }

    @Test
    void overlongNameIsRefused() {
        String longName = "t".repeat(250);
        assertTrue(error("a:" + longName).contains("at most 249 characters"));
        assertEquals(longName.substring(1), parse("a:" + longName.substring(1)).newName("a"));
    }

    @Test
    void everyProblemIsReportedAtOnce() {
        String message = error("a:,b,c:d,c:e");
        assertTrue(message.contains("(3 problems)"), message);
        assertTrue(message.contains("entry 1 'a:'"), message);
        assertTrue(message.contains("entry 2 'b'"), message);
        assertTrue(message.contains("entry 4 'c:e'"), message);
    }

    @Test
    void reservedNamesAreRefusedOnEitherSide() {
        Predicate<String> reserved = name -> name.equals("heartbeats");
        String legacy = assertThrows(ConfigException.class,
                () -> RenameMap.parse(KEY, "heartbeats:x", reserved)).getMessage();
        assertTrue(legacy.contains("legacy name 'heartbeats' is an internal or heartbeats topic"), legacy);
        String renamed = assertThrows(ConfigException.class,
                () -> RenameMap.parse(KEY, "x:heartbeats", reserved)).getMessage();
        assertTrue(renamed.contains("new name 'heartbeats'"), renamed);
    }
}
