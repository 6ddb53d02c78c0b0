//! QuestDB writer.
