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
        let category = utf8proc_category(Int32(bitPattern: scalar.value))
        switch category {
        case UTF8PROC_CATEGORY_ZS, UTF8PROC_CATEGORY_ZL, UTF8PROC_CATEGORY_ZP:
            self = .separator
        case UTF8PROC_CATEGORY_CC:
            self = .control
        case UTF8PROC_CATEGORY_CF:
            self = .format
        case UTF8PROC_CATEGORY_MN, UTF8PROC_CATEGORY_MC, UTF8PROC_CATEGORY_ME:
            self = .mark
        case UTF8PROC_CATEGORY_PC, UTF8PROC_CATEGORY_PD, UTF8PROC_CATEGORY_PS, UTF8PROC_CATEGORY_PE,
             UTF8PROC_CATEGORY_PI, UTF8PROC_CATEGORY_PF, UTF8PROC_CATEGORY_PO:
            self = .punctuation
        case UTF8PROC_CATEGORY_SM, UTF8PROC_CATEGORY_SC, UTF8PROC_CATEGORY_SK, UTF8PROC_CATEGORY_SO,
             UTF8PROC_CATEGORY_CO, UTF8PROC_CATEGORY_CN:
            self = .symbol
        default:
            // L*, N*, and Cs (surrogates, which a Swift String cannot hold).
            self = .word
        }
    }
}
