import CUTF8Proc

/// How the normaliser and the pre-tokenizer treat one Unicode scalar, decided by its
/// general category in utf8proc's tables (the same tables that normalise, so both stages
/// agree on one Unicode version).
enum CharacterClass {
    /// Z* (space, line and paragraph separators).
    case separator
    /// Cc: C0/C1 controls, including tab and the line breaks.
    case control
    /// Cf: zero-width joiner and non-joiner, BOM, directional marks, soft hyphen, tags.
    case format
    /// M*: combining marks, which belong to the character before them.
    case mark
    /// P*: punctuation.
    case punctuation
    /// S* (emoji, math, currency, modifier symbols), Co (private use) and Cn (unassigned,
    /// which includes emoji newer than utf8proc's tables): never part of a word.
    case symbol
    /// L* and N*: word characters (digits included).
    case word

    init(_ scalar: Unicode.Scalar) {
        // utf8proc_category_t values, fixed by utf8proc's API (utf8proc.h); switching on the
        // integer keeps this per-character test cheap even in debug builds.
        switch utf8proc_category(Int32(bitPattern: scalar.value)).rawValue {
        case 23...25: self = .separator    // ZS, ZL, ZP
        case 26: self = .control           // CC
        case 27: self = .format            // CF
        case 6...8: self = .mark           // MN, MC, ME
        case 12...18: self = .punctuation  // PC, PD, PS, PE, PI, PF, PO
        case 19...22, 29, 0: self = .symbol  // SM, SC, SK, SO, CO, CN
        default: self = .word              // LU...LO (1-5), ND, NL, NO (9-11), CS (28)
        }
    }
}
