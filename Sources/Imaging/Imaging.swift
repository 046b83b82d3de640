public enum ImagingModule {}
