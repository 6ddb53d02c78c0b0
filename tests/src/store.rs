//! Store abstraction: the same end-to-end assertions against the QuestDB double or a real
//! QuestDB (work in progress).
